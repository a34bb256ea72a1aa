package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/sender/sendertest"
)

var (
	srvV4 = netip.MustParseAddr("198.18.0.1")
	srvV6 = netip.MustParseAddr("2001:2::1")
	cliV4 = netip.MustParseAddr("198.18.0.2")
	cliV6 = netip.MustParseAddr("2001:2::2")
)

// fakeResolver answers from a map and counts lookups.
type fakeResolver struct {
	hosts map[string][]netip.Addr
	calls []string
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.calls = append(r.calls, network+" "+host)
	var out []netip.Addr
	for _, a := range r.hosts[host] {
		if network == "ip" || (network == "ip4") == a.Is4() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// memState is an in-memory State.
type memState map[string]uint64

func (m memState) LastStep(n string) (uint64, bool) { v, ok := m[n]; return v, ok }
func (m memState) Record(n string, s uint64) error  { m[n] = s; return nil }

func testProfile(host string, mode derive.Mode) profile.Profile {
	p := derive.DefaultParams()
	p.Protocols = derive.Protocols(derive.TCP | derive.UDP | derive.ICMP)
	return profile.Profile{Name: "gw1", Account: provision.Account{ServerID: "gw1", User: "alice", Host: host,
		Secret: []byte("0123456789abcdef0123456789abcdef"), Params: p, Knock: mode,
		Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}}}
}

// routes maps destinations to route sources; others have no route.
func routes(m map[netip.Addr]netip.Addr) func(netip.Addr) (netip.Addr, error) {
	return func(d netip.Addr) (netip.Addr, error) {
		if s, ok := m[d]; ok {
			return s, nil
		}
		return netip.Addr{}, fmt.Errorf("no route to %v", d)
	}
}

var dualRoutes = map[netip.Addr]netip.Addr{srvV4: cliV4, srvV6: cliV6}

func TestPlan(t *testing.T) {
	res := &fakeResolver{hosts: map[string][]netip.Addr{
		"dual.example": {srvV6, srvV4}, "v4first.example": {srvV4, srvV6}, "v4.example": {srvV4},
	}}
	nat := map[netip.Addr]netip.Addr{srvV4: netip.MustParseAddr("10.0.0.2"), srvV6: cliV6}
	cgn := map[netip.Addr]netip.Addr{srvV4: netip.MustParseAddr("100.64.1.2")}
	ll := map[netip.Addr]netip.Addr{srvV4: cliV4, srvV6: netip.MustParseAddr("fe80::2")}
	tests := []struct {
		name    string
		host    string
		mode    derive.Mode
		bound   bool
		fam     Family
		public  string
		routes  map[netip.Addr]netip.Addr
		dst     netip.Addr
		src     netip.Addr
		claim   derive.Claim
		nat     bool
		lookups []string
		err     string
	}{
		{name: "literal needs no lookup", host: "198.18.0.1", dst: srvV4},
		{name: "literal of the wrong family", host: "198.18.0.1", fam: IPv6, err: "198.18.0.1 is not an IPv6 address"},
		{name: "resolver's first: IPv6", host: "dual.example", dst: srvV6, lookups: []string{"ip dual.example"}},
		{name: "resolver's first: IPv4", host: "v4first.example", dst: srvV4, lookups: []string{"ip v4first.example"}},
		{name: "-4 chooses", host: "dual.example", fam: IPv4, dst: srvV4, lookups: []string{"ip4 dual.example"}},
		{name: "-6 without AAAA", host: "v4.example", fam: IPv6, err: "resolving v4.example: no such host", lookups: []string{"ip6 v4.example"}},
		{name: "unknown host", host: "nx.example", err: "resolving nx.example: no such host", lookups: []string{"ip nx.example"}},
		{name: "bound: route source", host: "198.18.0.1", bound: true, routes: dualRoutes, dst: srvV4, src: cliV4},
		{name: "bound: public IP", host: "198.18.0.1", bound: true, public: "198.19.7.7", dst: srvV4, src: netip.MustParseAddr("198.19.7.7")},
		{name: "packet: both families claimed", host: "dual.example", mode: derive.ModePacket, routes: dualRoutes,
			dst: srvV6, claim: derive.Claim{Addrs: []netip.Addr{cliV6, cliV4}}, lookups: []string{"ip dual.example"}},
		{name: "packet -4: both families still claimed", host: "dual.example", mode: derive.ModePacket, fam: IPv4, routes: dualRoutes,
			dst: srvV4, claim: derive.Claim{Addrs: []netip.Addr{cliV4, cliV6}}, lookups: []string{"ip dual.example"}},
		{name: "packet literal: its family only", host: "198.18.0.1", mode: derive.ModePacket, routes: dualRoutes,
			dst: srvV4, claim: derive.Claim{Addrs: []netip.Addr{cliV4}}},
		{name: "packet behind NAT", host: "v4first.example", mode: derive.ModePacket, routes: nat,
			dst: srvV4, claim: derive.Claim{Addrs: []netip.Addr{cliV6}, Source: true}, nat: true, lookups: []string{"ip v4first.example"}},
		{name: "packet behind CGNAT with a public IP", host: "198.18.0.1", mode: derive.ModePacket, routes: cgn, public: "198.19.7.7",
			dst: srvV4, claim: derive.Claim{Addrs: []netip.Addr{netip.MustParseAddr("198.19.7.7")}}, nat: true},
		{name: "packet: link-local not claimed", host: "v4first.example", mode: derive.ModePacket, routes: ll,
			dst: srvV4, claim: derive.Claim{Addrs: []netip.Addr{cliV4}}, lookups: []string{"ip v4first.example"}},
		{name: "packet: public IP added once", host: "198.18.0.1", mode: derive.ModePacket, routes: dualRoutes, public: "198.18.0.2",
			dst: srvV4, claim: derive.Claim{Addrs: []netip.Addr{cliV4}}},
		{name: "packet bound: tag over the route source", host: "198.18.0.1", mode: derive.ModePacket, bound: true, routes: dualRoutes,
			dst: srvV4, src: cliV4, claim: derive.Claim{Addrs: []netip.Addr{cliV4}}},
		{name: "packet with no route", host: "198.18.0.1", mode: derive.ModePacket, err: "no route to 198.18.0.1"},
		{name: "loopback is claimed as is", host: "127.0.0.1", mode: derive.ModePacket,
			routes: map[netip.Addr]netip.Addr{netip.MustParseAddr("127.0.0.1"): netip.MustParseAddr("127.0.0.1")},
			dst:    netip.MustParseAddr("127.0.0.1"), claim: derive.Claim{Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res.calls = nil
			c := &Client{Clock: clocktest.NewFake(time.Unix(1_800_000_000, 0)), Resolver: res, Route: routes(tt.routes)}
			p := testProfile(tt.host, tt.mode)
			p.BindSource = tt.bound
			o := Options{Family: tt.fam}
			if tt.public != "" {
				o.PublicIP = netip.MustParseAddr(tt.public)
			}
			pl, err := c.Plan(context.Background(), p, o)
			if diff := cmp.Diff(tt.lookups, res.calls, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("lookups (-want +got):\n%s", diff)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := pl.Request
			if r.Dst != tt.dst || r.Src != tt.src {
				t.Errorf("dst %v src %v, want %v %v", r.Dst, r.Src, tt.dst, tt.src)
			}
			if diff := cmp.Diff(tt.claim, r.Claim, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("claim (-want +got):\n%s", diff)
			}
			if pl.NAT != tt.nat {
				t.Errorf("NAT %v, want %v", pl.NAT, tt.nat)
			}
		})
	}
}

func TestGlobal(t *testing.T) {
	for a, want := range map[string]bool{
		"198.18.0.1": true, "8.8.8.8": true, "2001:db8::1": true, "::ffff:198.18.0.1": true,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "100.64.0.1": false, "100.127.255.254": false,
		"fd00::1": false, "127.0.0.1": false, "::1": false, "169.254.1.1": false, "fe80::1": false, "0.0.0.0": false,
	} {
		if got := Global(netip.MustParseAddr(a)); got != want {
			t.Errorf("Global(%s) = %v, want %v", a, got, want)
		}
	}
}

// counter is a Rand that counts up: predictable, which a real sender
// must never be, but every nonce still differs.
type counter struct{ n byte }

func (c *counter) Read(b []byte) (int, error) {
	for i := range b {
		c.n++
		b[i] = c.n
	}
	return len(b), nil
}

var payloadRE = regexp.MustCompile(`(?m)^\s*(\S+)s (\S+) -> (\S+) payload ([0-9a-f]+)$`)

// opened checks every packet of f with the server's Open for step and
// returns "time element size claim" lines.
func opened(t *testing.T, f *sendertest.Fake, p profile.Profile, step uint64, bound netip.Addr) []string {
	t.Helper()
	pd, err := derive.NewPacket(p.Secret, p.ServerID, p.Params)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range payloadRE.FindAllStringSubmatch(f.String(), -1) {
		k, err := derive.ParseKnock(m[2])
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := hex.DecodeString(m[4])
		if seen[string(payload[:derive.NonceSize])] {
			t.Errorf("nonce %x sent twice", payload[:derive.NonceSize])
		}
		seen[string(payload[:derive.NonceSize])] = true
		if len(payload) < derive.PayloadMin || len(payload) > derive.PayloadMax {
			t.Errorf("payload of %d bytes, want %d to %d", len(payload), derive.PayloadMin, derive.PayloadMax)
		}
		cl, err := pd.Open(payload, step, k, bound)
		if err != nil {
			t.Errorf("packet %s does not open: %v", m[0], err)
			continue
		}
		out = append(out, fmt.Sprintf("%s %s -> %s claim %s", m[1], k, m[3], ClaimString(cl)))
	}
	return out
}

func TestKnockPacket(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	tests := []struct {
		name   string
		openAt time.Duration // <0: never; 0 without a wait
		wait   bool
		bound  bool
		want   []string // time, element, destination, claim of each packet
		err    error
	}{
		{name: "no wait: one packet", want: []string{"10.00"}},
		{name: "opens at once", wait: true, openAt: 10 * time.Second, want: []string{"10.00"}},
		{name: "resent twice", wait: true, openAt: 10*time.Second + 600*time.Millisecond, want: []string{"10.00", "10.30", "10.60"}},
		{name: "never opens: three resends", wait: true, openAt: -1, want: []string{"10.00", "10.30", "10.60", "10.90"}, err: sender.ErrStillClosed},
		{name: "source-bound", bound: true, want: []string{"10.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clocktest.NewFake(start.Add(10 * time.Second))
			f := &sendertest.Fake{Clock: c, Start: start}
			st := memState{}
			var status bytes.Buffer
			cl := &Client{Clock: c, Writer: f, Route: routes(dualRoutes), State: st, Rand: &counter{}, Gap: 50 * time.Millisecond, Status: &status,
				Prober: &sendertest.FakeProber{Clock: c, Open: func(now time.Time) bool { return tt.openAt >= 0 && now.Sub(start) >= tt.openAt }}}
			p := testProfile("198.18.0.1", derive.ModePacket)
			p.BindSource = tt.bound
			o := Options{Timeout: 2 * time.Second}
			if tt.wait {
				o.Wait = 22
			}
			pl, err := cl.Plan(context.Background(), p, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cl.Knock(context.Background(), pl, 0)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			pd, _ := derive.NewPacket(p.Secret, p.ServerID, p.Params)
			el, _ := pd.Knock(60000000)
			var want []string
			for _, at := range tt.want {
				want = append(want, fmt.Sprintf("%s %v -> 198.18.0.1 claim 198.18.0.2; the packet's source not claimed", at, el))
			}
			var bound netip.Addr
			if tt.bound {
				bound = cliV4
			}
			if diff := cmp.Diff(want, opened(t, f, p, 60000000, bound)); diff != "" {
				t.Errorf("packets (-want +got):\n%s\nsent:\n%s", diff, f)
			}
			if tt.err == nil && (got.Result.Packets != len(tt.want) || got.Result.Knocks[0] != el) {
				t.Errorf("result %+v, want %d packets to %v", got.Result, len(tt.want), el)
			}
			if st["gw1"] != 60000000 {
				t.Errorf("state %v, want step 60000000 recorded", st)
			}
		})
	}
}

// TestBoundPacketNeedsItsSource checks that a source-bound packet knock
// opens only with the bound source under the tag.
func TestBoundPacketNeedsItsSource(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	c := clocktest.NewFake(start.Add(time.Second))
	f := &sendertest.Fake{Clock: c, Start: start}
	cl := &Client{Clock: c, Writer: f, Route: routes(dualRoutes)}
	p := testProfile("198.18.0.1", derive.ModePacket)
	p.BindSource = true
	pl, err := cl.Plan(context.Background(), p, Options{PublicIP: netip.MustParseAddr("198.19.7.7")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Knock(context.Background(), pl, 0); err != nil {
		t.Fatal(err)
	}
	m := payloadRE.FindStringSubmatch(f.String())
	payload, _ := hex.DecodeString(m[4])
	k, _ := derive.ParseKnock(m[2])
	pd, _ := derive.NewPacket(p.Secret, p.ServerID, p.Params)
	if _, err := pd.Open(payload, 60000000, k, netip.MustParseAddr("198.19.7.7")); err != nil {
		t.Errorf("Open from the bound source: %v", err)
	}
	if _, err := pd.Open(payload, 60000000, k, cliV4); !errors.Is(err, derive.ErrTag) {
		t.Errorf("Open from another source: %v, want ErrTag", err)
	}
}

// plainWriter cannot carry payloads.
type plainWriter struct{}

func (plainWriter) Write(context.Context, netip.Addr, derive.Knock) (string, error) {
	return "plain", nil
}

func TestPacketNeedsPayloadWriter(t *testing.T) {
	c := &Client{Clock: clocktest.NewFake(time.Unix(1_800_000_010, 0)), Writer: plainWriter{}, Route: routes(dualRoutes)}
	pl, err := c.Plan(context.Background(), testProfile("198.18.0.1", derive.ModePacket), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Knock(context.Background(), pl, 0); !errors.Is(err, sender.ErrNoPayload) {
		t.Errorf("err = %v, want ErrNoPayload", err)
	}
}

// TestSequenceThroughClient checks the sequence path: the resolver's
// first address is knocked and waited for, the used step recorded.
func TestSequenceThroughClient(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	c := clocktest.NewFake(start.Add(10 * time.Second))
	f := &sendertest.Fake{Clock: c, Start: start}
	st := memState{}
	res := &fakeResolver{hosts: map[string][]netip.Addr{"dual.example": {srvV6, srvV4}}}
	prober := &sendertest.FakeProber{Clock: c, Open: func(time.Time) bool { return true }}
	cl := &Client{Clock: c, Writer: f, Prober: prober, Resolver: res, Route: routes(dualRoutes), State: st, Gap: 50 * time.Millisecond}
	p := testProfile("dual.example", derive.ModeSequence)
	pl, err := cl.Plan(context.Background(), p, Options{Wait: 22, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Knock(context.Background(), pl, 0)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := derive.Sequence(p.Secret, p.ServerID, p.Params, 60000000, netip.Addr{})
	var want []string
	for i, k := range ks {
		want = append(want, fmt.Sprintf("%6.2fs %v -> 2001:2::1", 10+0.05*float64(i), k))
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), f.String()); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
	if got.Conn == nil || pl.Wait.Addr != netip.MustParseAddrPort("[2001:2::1]:22") || st["gw1"] != 60000000 {
		t.Errorf("opened %+v, wait %v, state %v", got, pl.Wait.Addr, st)
	}
}
