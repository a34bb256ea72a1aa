package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/publicaddr"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Global reports whether a is a global unicast address: not private
// (RFC 1918, fc00::/7 ULA), not CGNAT's 100.64.0.0/10, not loopback,
// link-local, multicast or unspecified. A client whose route source is
// not global while the server's address is sits behind NAT. (The test
// ranges 198.18.0.0/15 and 2001:2::/48 count as global here; what
// discovery accepts as a public address is stricter:
// [publicaddr.Global].)
func Global(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a)
}

// Finder learns the public address of route sources, the families in
// parallel, and may cache them; *publicaddr.Finder is one.
type Finder interface {
	Find(ctx context.Context, locals ...netip.Addr) []publicaddr.Result
	// Forget drops what is known of local's public address: a knock
	// that claimed it did not open.
	Forget(local netip.Addr) error
}

// route is one family's destination and route source for a claim.
type route struct {
	dst, src netip.Addr
	nat      bool // src is not global while dst is, or forced: translated
	forced   bool // Options.NAT says src is translated, whatever it is
	given    bool // o.PublicIP is of this family and stands for src
}

// claim fills pl.Request.Claim for a packet knock (docs/spec.md section
// 11.2): the route source of each family the host resolved to (the
// knocked one first), without link-local or unspecified ones, then
// --public-ip. A route source that is not global while its destination
// is stands for a translated address: the claim names instead the
// family's public address, --public-ip's or the one c.Finder learns;
// without one, the family is not claimed and, for the knocked family,
// the claim asks the server to open the packet's source (Source, the
// fallback for NAT) unless o.NoSource refuses it.
func (c *Client) claim(ctx context.Context, pl *Plan, o Options) error {
	dst := pl.Request.Dst
	pl.noSource = o.NoSource
	routes := c.claimRoutes(pl, o)
	found, off := c.discover(ctx, pl, routes)
	var cl derive.Claim
	bound := false // a source-bound profile's source is the discovered one
	for _, r := range routes {
		pub, ok := found[r.src]
		switch {
		case !r.nat:
			cl.Addrs = append(cl.Addrs, r.src.WithZone(""))
		case r.given:
			pl.note("NAT: %s: the knock claims --public-ip %v", r.translated(true), o.PublicIP)
		case ok && pub.Err == nil:
			cl.Addrs = append(cl.Addrs, pub.Public)
			if r.dst == dst {
				pl.discovered = &pub
			}
			if r.dst == dst && pl.Profile.BindSource && !o.PublicIP.IsValid() {
				pl.Request.Src, bound = pub.Public, true
			}
			pl.note("NAT: %s: the knock claims your public address %v", r.translated(true), pub)
		case r.dst == dst && o.NoSource:
			return fmt.Errorf("NAT: %s and %s, and the Source fallback is refused: pass --public-ip ADDR, your address as the server sees it, or --stun HOST:PORT", r.translated(false), why(pub, ok, off))
		case r.dst == dst:
			cl.Source = true
			pl.warn("NAT: %s and %s: the knock asks the server to open the address it comes from (an interceptor could re-send it from theirs); pass --public-ip ADDR or --stun HOST:PORT", r.translated(false), why(pub, ok, off))
		default:
			pl.note("claim: route source %v to %v is not a global address and %s, not claimed", r.src, r.dst, why(pub, ok, off))
		}
	}
	public := o.PublicIP
	if public.IsValid() && !slices.Contains(cl.Addrs, public.Unmap()) {
		cl.Addrs = append(cl.Addrs, public.Unmap())
	}
	if len(cl.Addrs) > derive.MaxClaimAddrs {
		cl.Addrs = cl.Addrs[:derive.MaxClaimAddrs]
	}
	if len(cl.Addrs) == 0 && !cl.Source {
		return errors.New("no address to claim for the packet knock: pass --public-ip ADDR, your address as the server sees it")
	}
	if pl.Profile.BindSource && pl.NAT && !public.IsValid() && !bound {
		pl.note("warning: profile %s is source-bound and your address looks translated: pass --public-ip ADDR, your address as the server sees it", pl.Profile.Name)
	}
	pl.Request.Claim = cl
	return nil
}

// claimRoutes returns the route of each family the host resolved to,
// the knocked one first, without those that have no route or a
// link-local or unspecified source; it sets pl.NAT. o.NAT marks the
// knocked family's route source translated whatever its address.
func (c *Client) claimRoutes(pl *Plan, o Options) []route {
	dst, public := pl.Request.Dst, o.PublicIP
	var out []route
	for _, d := range familyFirsts(dst, pl.Addrs) {
		src, err := pl.RouteSrc, error(nil)
		if d != dst {
			src, err = c.route()(d)
		}
		switch {
		case err != nil || !src.IsValid():
			pl.note("claim: no route to %v, its family is not claimed", d)
			continue
		case src.IsLinkLocalUnicast() || src.IsUnspecified():
			pl.note("claim: route source %v to %v is link-local or unspecified, not claimed", src, d)
			continue
		}
		r := route{dst: d, src: src, nat: !c.global(src) && c.global(d)}
		if o.NAT && d == dst && !r.nat {
			r.nat, r.forced = true, true
		}
		r.given = r.nat && public.IsValid() && public.Unmap().Is4() == d.Is4()
		pl.NAT = pl.NAT || r.nat && d == dst
		out = append(out, r)
	}
	return out
}

// discover asks c.Finder for the public address of each translated
// route source that --public-ip does not stand for, and keeps the
// answers in pl.Public. When it asks nothing, off says why: no Finder,
// or a dry run (which sends nothing, STUN requests included).
func (c *Client) discover(ctx context.Context, pl *Plan, routes []route) (found map[netip.Addr]publicaddr.Result, off string) {
	var locals []netip.Addr
	for _, r := range routes {
		if r.nat && !r.given {
			locals = append(locals, r.src)
		}
	}
	switch {
	case len(locals) == 0:
		return nil, ""
	case c.Finder == nil:
		return nil, "public-address discovery is off"
	case pl.Request.DryRun:
		return nil, "a dry run sends no STUN request"
	}
	found = map[netip.Addr]publicaddr.Result{}
	for _, r := range c.Finder.Find(ctx, locals...) {
		found[r.Local] = r
		pl.Public = append(pl.Public, r)
		if r.CacheErr != nil {
			pl.note("public address: %s", publicaddr.OneLine(r.CacheErr))
		}
	}
	return found, ""
}

func (c *Client) global(a netip.Addr) bool {
	if c.Global != nil {
		return c.Global(a)
	}
	return Global(a)
}

// translated says why r's source stands for a translated address, with
// r's destination when withDst.
func (r route) translated(withDst bool) string {
	to := ""
	if withDst {
		to = fmt.Sprintf(" to %v", r.dst)
	}
	if r.forced {
		return fmt.Sprintf("your route source %v%s is translated (--nat)", r.src, to)
	}
	return fmt.Sprintf("your route source %v%s is not a global address", r.src, to)
}

// why says why a translated family has no public address: discovery
// was not asked (off says why), or failed.
func why(r publicaddr.Result, asked bool, off string) string {
	if !asked {
		return off
	}
	return "public-address discovery failed (" + publicaddr.OneLine(r.Err) + ")"
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

func (pl *Plan) warn(format string, a ...any) {
	pl.Warnings = append(pl.Warnings, fmt.Sprintf(format, a...))
}
