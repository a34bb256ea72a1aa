package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/sender"
)

// Resolver looks up a host's addresses; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// State keeps the last step each profile used; *profile.State is one.
type State interface {
	LastStep(name string) (uint64, bool)
	Record(name string, step uint64) error
}

// Client knocks for profiles. Its zero fields take the real thing: the
// kernel's sockets, a TCP dial, the system resolver and routes.
type Client struct {
	Clock    clock.Clock
	Writer   sender.Writer                        // nil: sender.Kernel
	Prober   sender.Prober                        // nil: sender.Dialer
	Resolver Resolver                             // nil: net.DefaultResolver
	Route    func(netip.Addr) (netip.Addr, error) // nil: sender.RouteSource
	Rand     io.Reader                            // nil: crypto/rand (nonces, sizes)
	State    State                                // nil: steps are neither read nor kept
	// Finder learns public addresses for packet knocks from behind NAT;
	// nil: no discovery (such a knock falls back to Source).
	Finder Finder
	// Global says which route sources are global addresses (others are
	// translated, behind NAT); nil: the package's Global. Tests whose
	// NAT hides benchmarking addresses narrow it.
	Global  func(netip.Addr) bool
	NoRaw   bool          // the default Writer never uses raw sockets
	Gap     time.Duration // between a sequence's knocks
	Status  io.Writer     // notices (waits, the Source fallback); may be nil
	Verbose io.Writer     // one line per packet; may be nil
	// OnSent is called after each packet left (see sender.Knocker).
	OnSent func(step uint64, i int, k derive.Knock, total int)
}

// Family chooses the address family to knock over.
type Family int

// The families: Any follows the resolver's order, as net.Dial does.
const (
	Any Family = iota
	IPv4
	IPv6
)

// Options are one knock's choices.
type Options struct {
	Host   string // the host to knock; empty: the profile's
	Family Family
	// PublicIP is the address the server sees: the bound source of a
	// source-bound profile (else the route source is) and, for packet
	// knocks, one more address to claim.
	PublicIP netip.Addr
	Wait     uint16        // the TCP service to wait for; 0: none
	Timeout  time.Duration // per attempt, for the service to answer
	DryRun   bool
	// NoSource refuses the Source fallback: a packet knock from behind
	// NAT without a public address (given or discovered) is an error.
	NoSource bool
	// NAT says the knocked family's route source is translated although
	// it looks global (a NAT the client does not recognise: a server on
	// a private address behind NAT, an office LAN, a VPN that NATs): a
	// packet knock claims the public address discovery finds, else asks
	// the server to open the packet's source (Source).
	NAT bool
}

// Plan is a resolved knock: what will be sent where, and what is waited
// for.
type Plan struct {
	Profile profile.Profile
	Host    string
	Addrs   []netip.Addr   // the host's addresses, in the resolver's order
	Request sender.Request // Dst, Src, Claim, LastStep
	Wait    *sender.Wait   // nil: no wait
	// NAT is set when the route source of the knocked family is not a
	// global address while the server's is (a packet knock): the claim
	// names the family's public address, or Claim.Source is set.
	NAT      bool
	RouteSrc netip.Addr // the route source of the knocked family
	// Public holds discovery's answers for translated route sources:
	// the public addresses and their ages, or why there is none.
	Public []publicaddr.Result
	// Fleet says, for a fleet profile, which profile and member identity
	// the knock used; empty for a lone server's profile.
	Fleet    string
	Notes    []string // what verbose output says about the claim
	Warnings []string // what the knock says on Status: the Source fallback

	discovered *publicaddr.Result // the knocked family's claimed public address
	noSource   bool               // Options.NoSource
}

// Plan resolves p's host and builds the request; it sends nothing. Only
// a host name is looked up, once; an address literal needs no lookup. A
// dry run looks nothing up: it plans for the name (see dryPlan).
func (c *Client) Plan(ctx context.Context, p profile.Profile, o Options) (*Plan, error) {
	host := o.Host
	if host == "" {
		host = p.Host
	}
	pl := &Plan{Profile: p, Host: host}
	if _, err := netip.ParseAddr(host); err != nil && o.DryRun {
		return c.dryPlan(pl, o)
	}
	var err error
	if pl.Addrs, err = c.lookup(ctx, host, o.Family, p.Knock == derive.ModePacket); err != nil {
		return nil, err
	}
	dst, err := pick(host, pl.Addrs, o.Family)
	if err != nil {
		return nil, err
	}
	secret, serverID, err := keyFor(pl)
	if err != nil {
		return nil, err
	}
	r := sender.Request{Secret: secret, ServerID: serverID, Params: p.Params, Dst: dst, Mode: p.Knock, DryRun: o.DryRun,
		Auth: p.Auth, PrivateKey: p.PrivateKey}
	if c.State != nil {
		r.LastStep, r.HaveLast = c.State.LastStep(p.Name)
	}
	if pl.RouteSrc, err = c.route()(dst); err != nil && (p.BindSource || p.Knock == derive.ModePacket) && !o.PublicIP.IsValid() {
		return nil, err
	}
	if p.BindSource {
		r.Src = o.PublicIP
		if !r.Src.IsValid() {
			r.Src = pl.RouteSrc
		}
	}
	pl.Request = r
	if p.Knock == derive.ModePacket {
		if err := c.claim(ctx, pl, o); err != nil {
			return nil, err
		}
	}
	c.planWait(pl, dst, o)
	return pl, nil
}

// dryPlan plans a dry run to a host name without resolving it: the
// request names the host, a source-bound profile derives with
// --public-ip, and a packet knock claims only --public-ip.
func (c *Client) dryPlan(pl *Plan, o Options) (*Plan, error) {
	p := pl.Profile
	if p.BindSource && !o.PublicIP.IsValid() {
		return nil, fmt.Errorf("profile %s is source-bound and a dry run does not resolve %s: pass --public-ip ADDR, the address the server sees the knocks come from", p.Name, pl.Host)
	}
	secret, serverID, err := keyFor(pl)
	if err != nil {
		return nil, err
	}
	r := sender.Request{Secret: secret, ServerID: serverID, Params: p.Params, Name: pl.Host, Mode: p.Knock, DryRun: true,
		Auth: p.Auth, PrivateKey: p.PrivateKey}
	if c.State != nil {
		r.LastStep, r.HaveLast = c.State.LastStep(p.Name)
	}
	if p.BindSource {
		r.Src = o.PublicIP
	}
	if p.Knock == derive.ModePacket {
		// A claim to seal: --public-ip, else the packet's source.
		r.Claim.Source = true
		if o.PublicIP.IsValid() {
			r.Claim = derive.Claim{Addrs: []netip.Addr{o.PublicIP.Unmap()}}
		}
		pl.note("claim: not resolved in a dry run; a knock claims the route source of each family %s resolves to", pl.Host)
	}
	pl.Request = r
	c.planWait(pl, netip.Addr{}, o)
	return pl, nil
}

// planWait sets pl.Wait for o.Wait on dst (zero in an unresolved dry run).
func (c *Client) planWait(pl *Plan, dst netip.Addr, o Options) {
	if o.Wait == 0 {
		return
	}
	prober := c.Prober
	if prober == nil {
		prober = sender.Dialer{}
	}
	pl.Wait = &sender.Wait{Prober: prober, Addr: netip.AddrPortFrom(dst, o.Wait), Timeout: o.Timeout}
}

// Knock sends pl's knock, waits for its service when it has one, and
// knocks again in a later step up to retries times while the service
// stays closed. Each used step is recorded in c.State before waiting.
//
// A packet knock whose claim names addresses only (no Source) knocks
// again at most once: when its service stays closed the likely cause is
// a claim the server refused (a NAT that translates the address), which
// the same claim in later steps cannot fix, and the error says what
// does. When it claimed a discovered public address, that one retry
// asks the server to open the packet's source instead, and no longer
// claims the discovered address (unless Options.NoSource refused it, or
// the profile is source-bound): the NAT may map to another address
// toward the server than toward the STUN server.
func (c *Client) Knock(ctx context.Context, pl *Plan, retries int) (sender.Opened, error) {
	for _, n := range pl.Notes {
		c.say(c.Verbose, "%s\n", n)
	}
	for _, n := range pl.Warnings {
		c.say(c.Status, "%s\n", n)
	}
	if pl.Fleet != "" {
		c.say(c.Status, "%s\n", pl.Fleet)
	}
	w := c.Writer
	if w == nil {
		w = &sender.Kernel{NoRaw: c.NoRaw}
	}
	k := &sender.Knocker{Clock: c.Clock, Writer: w, Gap: c.Gap, Status: c.Status, Verbose: c.Verbose, OnSent: c.OnSent, Rand: c.Rand}
	var last uint64
	record := func(r sender.Result) error {
		last = r.Step
		if c.State == nil {
			return nil
		}
		return c.State.Record(pl.Profile.Name, r.Step)
	}
	claimed := pl.Request.Mode == derive.ModePacket && !pl.Request.Claim.Source && pl.Wait != nil && !pl.Request.DryRun
	if !claimed {
		return k.Open(ctx, pl.Request, pl.Wait, retries, record)
	}
	if pl.discovered == nil || pl.noSource || pl.Profile.BindSource || retries == 0 {
		got, err := k.Open(ctx, pl.Request, pl.Wait, min(retries, 1), record)
		return got, c.claimHint(pl, err)
	}
	got, err := k.Open(ctx, pl.Request, pl.Wait, 0, record)
	if !errors.Is(err, sender.ErrStillClosed) {
		return got, err
	}
	// The discovered address may not be the one the server sees (a NAT
	// that maps to another address toward it): fall back to Source.
	c.say(c.Status, "%v still closed after claiming your public address %v (a NAT may map to another address toward the server): knocking again with the server opening the address the knock comes from\n",
		pl.Wait.Addr, pl.discovered.Public)
	if c.Finder != nil {
		if err := c.Finder.Forget(pl.discovered.Local); err != nil {
			c.say(c.Status, "%v\n", err)
		}
	}
	r := pl.Request
	r.Claim, r.LastStep, r.HaveLast = fallbackClaim(r.Claim, pl.discovered.Public), last, true
	got, err = k.Open(ctx, r, pl.Wait, 0, record)
	if err == nil {
		got.Attempts++
	}
	return got, err
}

// fallbackClaim is the claim of the Source fallback: c with Source set
// and without the discovered address, which the server did not see the
// knock come from: it may be another host's (a NAT's other address, a
// CGNAT pool's), and the packet's source stands for it when it is the
// client's after all.
func fallbackClaim(c derive.Claim, discovered netip.Addr) derive.Claim {
	addrs := slices.DeleteFunc(slices.Clone(c.Addrs), func(a netip.Addr) bool { return a == discovered })
	return derive.Claim{Addrs: addrs, Source: true}
}

// claimHint adds to a packet knock's ErrStillClosed the likely cause,
// a claim the server refused, and what fixes it.
func (c *Client) claimHint(pl *Plan, err error) error {
	if !errors.Is(err, sender.ErrStillClosed) {
		return err
	}
	claim := joinAddrs(pl.Request.Claim.Addrs)
	if pl.discovered != nil {
		return fmt.Errorf("%w; the server may have refused the claim of %s (a NAT may map to another address toward the server): pass --public-ip ADDR, your address as the server sees it", err, claim)
	}
	return fmt.Errorf("%w; the server may have refused the claim of %s: if a NAT translates your address (a server on a private address, an office LAN, a VPN), pass --nat, or --public-ip ADDR, your address as the server sees it, or --stun HOST:PORT with --nat", err, claim)
}

// DefaultService returns the port of p's first TCP service (the first
// whose protocol answers a connect: [derive.ProtoInfo.Connect]): what a
// knock waits for unless told otherwise.
func DefaultService(p profile.Profile) (uint16, bool) {
	for _, k := range p.Open {
		if r, _ := k.Proto.Info(); r.Connect {
			return k.Port, true
		}
	}
	return 0, false
}

// lookup returns host's addresses, unmapped: the literal itself, or the
// resolver's answer. Packet knocks ask for both families, whatever
// family is knocked, to claim both.
func (c *Client) lookup(ctx context.Context, host string, f Family, both bool) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	network := "ip"
	if f == IPv4 && !both {
		network = "ip4"
	} else if f == IPv6 && !both {
		network = "ip6"
	}
	var r Resolver = net.DefaultResolver
	if c.Resolver != nil {
		r = c.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolving %s: no address", host)
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap()
	}
	return out, nil
}

// pick returns the first address of the family asked for: with Any, the
// resolver's first, the one net.Dial tries first.
func pick(host string, addrs []netip.Addr, f Family) (netip.Addr, error) {
	for _, a := range addrs {
		if f == Any || (f == IPv4) == a.Is4() {
			return a, nil
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return netip.Addr{}, fmt.Errorf("%s is not an %s address", host, f)
	}
	return netip.Addr{}, fmt.Errorf("%s has no %s address", host, f)
}

// String returns "IPv4", "IPv6" or "IP".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "IP"
}

func (c *Client) route() func(netip.Addr) (netip.Addr, error) {
	if c.Route != nil {
		return c.Route
	}
	return sender.RouteSource
}

func (c *Client) say(w io.Writer, format string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, format, a...)
	}
}
