package client

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/otpknock/otpknock/derive"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Global reports whether a is a global unicast address: not private
// (RFC 1918, fc00::/7 ULA), not CGNAT's 100.64.0.0/10, not loopback,
// link-local, multicast or unspecified. A client whose route source is
// not global while the server's address is sits behind NAT.
func Global(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a)
}

// claim fills pl.Request.Claim for a packet knock (docs/spec.md section
// 11.2): the route source of each family the host resolved to (the
// knocked one first), without link-local or unspecified ones, then
// public. A route source that is not global while its destination is
// stands for a translated address: it is not claimed, and for the
// knocked family the claim asks the server to open the packet's source
// instead (Source, for NAT).
func (c *Client) claim(pl *Plan, public netip.Addr) error {
	dst := pl.Request.Dst
	var cl derive.Claim
	for _, d := range familyFirsts(dst, pl.Addrs) {
		src, err := pl.RouteSrc, error(nil)
		if d != dst {
			src, err = c.route()(d)
		}
		switch {
		case err != nil || !src.IsValid():
			pl.note("claim: no route to %v, its family is not claimed", d)
		case src.IsLinkLocalUnicast() || src.IsUnspecified():
			pl.note("claim: route source %v to %v is link-local or unspecified, not claimed", src, d)
		case !Global(src) && Global(d) && d == dst:
			pl.NAT, cl.Source = true, true
			pl.note("NAT: your route source %v is not a global address while %v is: the knock asks the server to open the address it comes from", src, d)
		case !Global(src) && Global(d):
			pl.note("claim: route source %v to %v is not a global address (NAT), not claimed", src, d)
		default:
			cl.Addrs = append(cl.Addrs, src.WithZone(""))
		}
	}
	if public.IsValid() && !slices.Contains(cl.Addrs, public.Unmap()) {
		cl.Addrs = append(cl.Addrs, public.Unmap())
	}
	if len(cl.Addrs) > derive.MaxClaimAddrs {
		cl.Addrs = cl.Addrs[:derive.MaxClaimAddrs]
	}
	if len(cl.Addrs) == 0 && !cl.Source {
		return errors.New("no address to claim for the packet knock: pass --public-ip ADDR, your address as the server sees it")
	}
	if pl.Profile.BindSource && pl.NAT && !public.IsValid() {
		pl.note("warning: profile %s is source-bound and your address looks translated: pass --public-ip ADDR, your address as the server sees it", pl.Profile.Name)
	}
	pl.Request.Claim = cl
	return nil
}

// familyFirsts returns dst, then the first address of the other family
// among addrs, if any.
func familyFirsts(dst netip.Addr, addrs []netip.Addr) []netip.Addr {
	out := []netip.Addr{dst}
	for _, a := range addrs {
		if a.Is4() != dst.Is4() {
			return append(out, a)
		}
	}
	return out
}

func (pl *Plan) note(format string, a ...any) {
	pl.Notes = append(pl.Notes, fmt.Sprintf(format, a...))
}
