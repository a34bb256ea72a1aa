package cli

import (
	"fmt"
	"net/netip"

	"github.com/otpknock/otpknock/derive"
)

// The helpers below print and check knocks alike in both programs: the
// client's show and send, the server's user list and user show.

// KnockList joins services for a table or message; "-" for none.
func KnockList(ks []derive.Knock) string {
	if len(ks) == 0 {
		return "-"
	}
	return derive.Knocks(ks).String()
}

// YesNo is "yes" or "no".
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// SourceArg checks the flag (--source, --public-ip) that gives the
// address the server sees for who ("profile work", "user bob"): it is
// for source-bound ones only (bound), and returns the zero Addr for the
// others. A bound one without the flag gets fallback's address, or, with
// no fallback, an error asking for the flag.
func SourceArg(flag, value, who string, bound bool, fallback func() (netip.Addr, error)) (netip.Addr, error) {
	switch {
	case !bound && value != "":
		return netip.Addr{}, fmt.Errorf("%s: %s is not source-bound", flag, who)
	case !bound:
		return netip.Addr{}, nil
	case value == "" && fallback != nil:
		return fallback()
	case value == "":
		return netip.Addr{}, fmt.Errorf("%s is source-bound: pass %s ADDR, the address the server sees the knocks come from", who, flag)
	}
	a, err := netip.ParseAddr(value)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s: %q is not an IP address", flag, value)
	}
	return a.Unmap(), nil
}

// FormatSequence writes a sequence as --format asks: plain (tcp/23456,
// space-separated) or knock (the knock client's 23456:tcp).
func FormatSequence(ks []derive.Knock, format, name string) (string, error) {
	if format == "plain" {
		return derive.Knocks(ks).Join(" "), nil
	}
	args, ok := derive.Knocks(ks).KnockArgs()
	if !ok {
		return "", fmt.Errorf("profile %s knocks with icmp, which the knock client cannot send: use otpknock send", name)
	}
	return args, nil
}
