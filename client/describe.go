package client

import (
	"fmt"
	"io"
	"strings"

	"github.com/otpknock/otpknock/derive"
)

// Describe writes what pl will do, one line each: the profile, mode and
// address knocked (with the host's addresses when it was looked up), the
// bound source, a packet knock's claim and the service waited for. It
// never prints the secret.
func (pl *Plan) Describe(w io.Writer) {
	r := pl.Request
	what := fmt.Sprintf("sequence of %d knocks", r.Params.Knocks)
	if r.Mode == derive.ModePacket {
		what = "packet knock"
	}
	fmt.Fprintf(w, "profile %s: %s to %v", pl.Profile.Name, what, r.Dst)
	if pl.Host != r.Dst.String() {
		fmt.Fprintf(w, " (%s: %s)", pl.Host, joinAddrs(pl.Addrs))
	}
	fmt.Fprintln(w)
	if r.Src.IsValid() {
		fmt.Fprintf(w, "bound source: %v\n", r.Src)
	}
	if r.Mode == derive.ModePacket {
		fmt.Fprintf(w, "claim: %s\n", ClaimString(r.Claim))
	}
	if pl.Wait != nil {
		fmt.Fprintf(w, "wait: tcp %v, %s per attempt\n", pl.Wait.Addr, pl.Wait.Timeout)
	}
}

// ClaimString renders a claim: its addresses, and whether the packet's
// source is claimed too.
func ClaimString(c derive.Claim) string {
	s := joinAddrs(c.Addrs)
	if s == "" {
		s = "no address"
	}
	if c.Source {
		return s + "; the packet's source too (NAT)"
	}
	return s + "; the packet's source not claimed"
}

func joinAddrs[T fmt.Stringer](as []T) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}
