package publicaddr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/pion/stun/v3"
)

// DefaultServers are well-known public STUN servers, tried at once;
// each answers over IPv4 and IPv6.
func DefaultServers() []string {
	return []string{"stun.cloudflare.com:3478", "stun.l.google.com:19302", "stun1.l.google.com:19302"}
}

// The bounds of a discovery: each attempt waits Timeout for an answer,
// and a server that did not answer is asked once more.
const (
	DefaultTimeout = 500 * time.Millisecond
	Attempts       = 2
)

// Resolver looks up a server's addresses; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Finder learns public addresses. Its zero fields take the real thing.
type Finder struct {
	Servers   []string      // host:port each; nil: DefaultServers
	Exchanger Exchanger     // nil: UDP
	Resolver  Resolver      // nil: net.DefaultResolver
	Clock     clock.Clock   // nil: clock.System
	Cache     *Cache        // nil: every Find asks the servers
	Timeout   time.Duration // per attempt; 0: DefaultTimeout
	// Accept says which mapped addresses are public; nil: Global.
	// Tests inside the benchmarking ranges widen it.
	Accept func(netip.Addr) bool
}

// Address is a public address learnt for a local route address.
type Address struct {
	Local  netip.Addr // the route source the mapping was learnt from
	Public netip.Addr // the XOR-MAPPED-ADDRESS, unmapped
	Server string     // the server that answered, as listed
	At     time.Time  // when it answered
}

// Result is what Find learnt for one local address: the address and its
// age, or why there is none.
type Result struct {
	Address
	Age    time.Duration // since Address.At, when Find returned
	Cached bool          // taken from the cache
	Err    error         // no address: the cause
	// CacheErr says the fresh answer could not be kept in the cache;
	// the address is still valid.
	CacheErr error
}

// Find learns the public address of each local route address (one per
// family, typically), the families in parallel, from the cache when it
// holds a fresh entry, else from the servers; fresh answers are cached.
// It returns one Result per local, in order.
func (f *Finder) Find(ctx context.Context, locals ...netip.Addr) []Result {
	out := make([]Result, len(locals))
	var wg sync.WaitGroup
	for i, l := range locals {
		wg.Go(func() { out[i] = f.find(ctx, l.Unmap()) })
	}
	wg.Wait()
	return out
}

// Forget drops the cached answer for local: the knock that claimed it
// did not open, so the next one asks afresh.
func (f *Finder) Forget(local netip.Addr) error {
	if f.Cache == nil {
		return nil
	}
	return f.Cache.Delete(local, f.clock().Now())
}

func (f *Finder) find(ctx context.Context, local netip.Addr) Result {
	if !local.IsValid() {
		return Result{Err: errors.New("public address: no local address")}
	}
	now := f.clock().Now()
	if f.Cache != nil {
		if a, ok := f.Cache.Get(local, now); ok {
			return Result{Address: a, Age: now.Sub(a.At), Cached: true}
		}
	}
	a, err := f.ask(ctx, local)
	if err != nil {
		return Result{Address: Address{Local: local}, Err: err}
	}
	r := Result{Address: a, Age: f.clock().Now().Sub(a.At)}
	if f.Cache != nil {
		r.CacheErr = f.Cache.Put(a, f.clock().Now())
	}
	return r
}

// ask queries every server of local's family at once and returns the
// first valid answer, or all the reasons there was none.
func (f *Finder) ask(ctx context.Context, local netip.Addr) (Address, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout()*(Attempts+1))
	defer cancel()
	servers := f.Servers
	if servers == nil {
		servers = DefaultServers()
	}
	if len(servers) == 0 {
		return Address{}, errors.New("no STUN server")
	}
	type answer struct {
		a   Address
		err error
	}
	answers := make(chan answer, len(servers))
	for _, s := range servers {
		go func() {
			a, err := f.askServer(ctx, local, s)
			answers <- answer{a, err}
		}()
	}
	var errs []error
	for range servers {
		an := <-answers
		if an.err == nil {
			return an.a, nil
		}
		errs = append(errs, an.err)
	}
	return Address{}, fmt.Errorf("%s public address: %w", family(local), errors.Join(errs...))
}

// askServer resolves server in local's family and asks it, with one
// retry after an attempt without an answer.
func (f *Finder) askServer(ctx context.Context, local netip.Addr, server string) (Address, error) {
	dst, err := f.resolve(ctx, local, server)
	if err != nil {
		return Address{}, err
	}
	for try := 1; ; try++ {
		actx, cancel := context.WithTimeout(ctx, f.timeout())
		pub, err := f.attempt(actx, local, dst)
		cancel()
		switch {
		case err == nil:
			return Address{Local: local, Public: pub, Server: server, At: f.clock().Now()}, nil
		case !errors.Is(err, context.DeadlineExceeded) || try == Attempts || ctx.Err() != nil:
			return Address{}, fmt.Errorf("%s: %w", server, err)
		}
	}
}

// attempt sends one binding request and checks the answer.
func (f *Finder) attempt(ctx context.Context, local netip.Addr, dst netip.AddrPort) (netip.Addr, error) {
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("building the request: %w", err)
	}
	raw, err := f.exchanger().Exchange(ctx, local, dst, req.Raw)
	if err != nil {
		return netip.Addr{}, err
	}
	pub, err := mapped(raw, req.TransactionID)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("answer from %v: %w", dst, err)
	}
	switch {
	case pub.Is4() != local.Is4() && local.IsValid():
		return netip.Addr{}, fmt.Errorf("answer from %v: mapped address %v is not of the %s family", dst, pub, family(local))
	case !f.accept(pub):
		return netip.Addr{}, fmt.Errorf("answer from %v: mapped address %v is not a global address", dst, pub)
	}
	return pub, nil
}

// mapped decodes a binding success response to the transaction id and
// returns its XOR-MAPPED-ADDRESS.
func mapped(raw []byte, id [stun.TransactionIDSize]byte) (netip.Addr, error) {
	m := &stun.Message{Raw: append([]byte(nil), raw...)}
	if err := m.Decode(); err != nil {
		return netip.Addr{}, fmt.Errorf("not a STUN message: %w", err)
	}
	if m.TransactionID != id {
		return netip.Addr{}, errors.New("not an answer to the request (transaction id)")
	}
	if m.Type == stun.BindingError {
		var ec stun.ErrorCodeAttribute
		ec.GetFrom(m)
		return netip.Addr{}, fmt.Errorf("binding error %v", ec)
	}
	if m.Type != stun.BindingSuccess {
		return netip.Addr{}, fmt.Errorf("%v, not a binding success", m.Type)
	}
	if m.Contains(stun.AttrFingerprint) {
		if err := stun.Fingerprint.Check(m); err != nil {
			return netip.Addr{}, fmt.Errorf("fingerprint: %w", err)
		}
	}
	var x stun.XORMappedAddress
	if err := x.GetFrom(m); err != nil {
		return netip.Addr{}, fmt.Errorf("no XOR-MAPPED-ADDRESS: %w", err)
	}
	a, ok := netip.AddrFromSlice(x.IP)
	if !ok {
		return netip.Addr{}, fmt.Errorf("XOR-MAPPED-ADDRESS %v is not an address", x.IP)
	}
	return a.Unmap(), nil
}

// resolve returns server's first address of local's family.
func (f *Finder) resolve(ctx context.Context, local netip.Addr, server string) (netip.AddrPort, error) {
	host, ps, err := net.SplitHostPort(server)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("stun server %q: %w", server, err)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("stun server %q: port %q must be from 1 to 65535", server, ps)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else if addrs, err = f.resolver().LookupNetIP(ctx, network(local), host); err != nil {
		return netip.AddrPort{}, fmt.Errorf("%s: resolving: %w", server, err)
	}
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() == local.Is4() {
			return netip.AddrPortFrom(a, uint16(port)), nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("%s: no %s address", server, family(local))
}

// ParseServers parses a list of STUN servers: "none" is the empty list
// (discovery off), else comma-separated HOST:PORT items.
func ParseServers(s string) ([]string, error) {
	if s == "none" {
		return []string{}, nil
	}
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		host, ps, err := net.SplitHostPort(item)
		if err != nil || host == "" {
			return nil, fmt.Errorf("stun server %q: want HOST:PORT", item)
		}
		if p, err := strconv.ParseUint(ps, 10, 16); err != nil || p == 0 {
			return nil, fmt.Errorf("stun server %q: port %q must be from 1 to 65535", item, ps)
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		return nil, errors.New("stun servers: empty list (use none to turn discovery off)")
	}
	return out, nil
}

// family names local's family: "IPv4" or "IPv6".
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// network is the resolver's network for local's family.
func network(a netip.Addr) string {
	if a.Is4() {
		return "ip4"
	}
	return "ip6"
}

func (f *Finder) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *Finder) clock() clock.Clock {
	if f.Clock != nil {
		return f.Clock
	}
	return clock.System{}
}

func (f *Finder) exchanger() Exchanger {
	if f.Exchanger != nil {
		return f.Exchanger
	}
	return UDP{}
}

func (f *Finder) resolver() Resolver {
	if f.Resolver != nil {
		return f.Resolver
	}
	return net.DefaultResolver
}

func (f *Finder) accept(a netip.Addr) bool {
	if f.Accept != nil {
		return f.Accept(a)
	}
	return Global(a)
}

// String renders a result in one line: "IPv4 203.0.113.7 for 10.0.0.2
// from stun.example:3478, 42s old (cached)", or the cause of failure.
func (r Result) String() string {
	if r.Err != nil {
		return fmt.Sprintf("%s for %v: %s", family(r.Local), r.Local, OneLine(r.Err))
	}
	s := fmt.Sprintf("%s %v for %v from %s, %v old", family(r.Public), r.Public, r.Local, r.Server, r.Age.Round(time.Second))
	if r.Cached {
		s += " (cached)"
	}
	return s
}

// OneLine renders err on one line: the causes errors.Join put on lines
// of their own are joined by "; ".
func OneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
