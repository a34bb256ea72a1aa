package client

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/otpknock/otpknock/derive"
)

// Describe writes what pl will do, one line each: the profile, mode and
// address knocked (with the host's addresses when it was looked up), the
// bound source, the public addresses discovery found (with their age) or
// why it found none, a packet knock's claim and the service waited
// for. It
// never prints the secret.
func (pl *Plan) Describe(w io.Writer) {
	r := pl.Request
	what := fmt.Sprintf("sequence of %d knocks", r.Params.Knocks)
	if r.Mode == derive.ModePacket {
		what = "packet knock"
	}
	resolved := r.Dst.IsValid()
	switch {
	case !resolved:
		fmt.Fprintf(w, "profile %s: %s to %s (not resolved in a dry run)\n", pl.Profile.Name, what, pl.Host)
	case pl.Host != r.Dst.String():
		fmt.Fprintf(w, "profile %s: %s to %v (%s: %s)\n", pl.Profile.Name, what, r.Dst, pl.Host, joinAddrs(pl.Addrs))
	default:
		fmt.Fprintf(w, "profile %s: %s to %v\n", pl.Profile.Name, what, r.Dst)
	}
	switch {
	case r.Src.IsValid():
		fmt.Fprintf(w, "bound source: %v\n", r.Src)
	case pl.RouteSrc.IsValid():
		fmt.Fprintf(w, "source: %v (the route's)\n", pl.RouteSrc)
	case !resolved:
		fmt.Fprintf(w, "source: the route's to %s\n", pl.Host)
	}
	for _, p := range pl.Public {
		fmt.Fprintf(w, "public address: %s\n", p)
	}
	if r.Mode == derive.ModePacket && resolved {
		fmt.Fprintf(w, "claim: %s\n", ClaimString(r.Claim))
	}
	if pl.Wait != nil {
		addr := pl.Wait.Addr.String()
		if !resolved {
			addr = net.JoinHostPort(pl.Host, strconv.Itoa(int(pl.Wait.Addr.Port())))
		}
		fmt.Fprintf(w, "wait: tcp %s, %s per attempt\n", addr, pl.Wait.Timeout)
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
