package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// fakeFinder answers from a table of public addresses by local address
// (a local missing from it fails) and logs each Find, one line per
// call with its locals, which String renders.
type fakeFinder struct {
	mu     sync.Mutex
	public map[netip.Addr]netip.Addr
	log    []string
}

func (f *fakeFinder) Find(_ context.Context, locals ...netip.Addr) []publicaddr.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "find "+joinAddrs(locals))
	out := make([]publicaddr.Result, len(locals))
	for i, l := range locals {
		out[i].Local = l
		if p, ok := f.public[l]; ok {
			out[i].Public, out[i].Server, out[i].Age, out[i].Cached = p, "stun.example:3478", 42*time.Second, true
		} else {
			out[i].Err = errors.New("IPv4 public address: stun.example:3478: no answer\nstun2.example:3478: no answer")
		}
	}
	return out
}

func (f *fakeFinder) Forget(local netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "forget "+local.String())
	delete(f.public, local)
	return nil
}

func (f *fakeFinder) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.log, "\n")
}

// TestPlanDiscovery checks the claim of a packet knock from behind NAT:
// the discovered public address in place of the translated route
// source, Source only as the fallback, said on Status in one line, and
// refused with NoSource.
func TestPlanDiscovery(t *testing.T) {
	natV4, natV6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")
	pubV4, pubV6 := netip.MustParseAddr("198.19.7.7"), netip.MustParseAddr("2001:2::77")
	res := &fakeResolver{hosts: map[string][]netip.Addr{"v4first.example": {srvV4, srvV6}}}
	natRoutes := map[netip.Addr]netip.Addr{srvV4: natV4, srvV6: cliV6}
	bothNAT := map[netip.Addr]netip.Addr{srvV4: natV4, srvV6: natV6}
	fallback := "NAT: your route source 10.0.0.2 is not a global address and %s: the knock asks the server to open the address it comes from (an interceptor could re-send it from theirs); pass --public-ip ADDR or --stun HOST:PORT"
	failed := "public-address discovery failed (IPv4 public address: stun.example:3478: no answer; stun2.example:3478: no answer)"
	tests := []struct {
		name     string
		routes   map[netip.Addr]netip.Addr
		public   map[netip.Addr]netip.Addr // nil: no Finder
		given    string                    // --public-ip
		noSource bool
		bound    bool
		dryRun   bool
		host     string // "": v4first.example
		claim    derive.Claim
		src      netip.Addr
		finds    string
		warnings []string
		err      string
	}{
		{name: "discovered: claimed, Source clear", routes: natRoutes, public: map[netip.Addr]netip.Addr{natV4: pubV4},
			claim: derive.Claim{Addrs: []netip.Addr{pubV4, cliV6}}, finds: "find 10.0.0.2"},
		{name: "both families discovered in one find", routes: bothNAT, public: map[netip.Addr]netip.Addr{natV4: pubV4, natV6: pubV6},
			claim: derive.Claim{Addrs: []netip.Addr{pubV4, pubV6}}, finds: "find 10.0.0.2 fd00::2"},
		{name: "discovery failed: Source, said once", routes: natRoutes, public: map[netip.Addr]netip.Addr{},
			claim: derive.Claim{Addrs: []netip.Addr{cliV6}, Source: true}, finds: "find 10.0.0.2", warnings: []string{fmt.Sprintf(fallback, failed)}},
		{name: "discovery off: Source, said once", routes: natRoutes,
			claim: derive.Claim{Addrs: []netip.Addr{cliV6}, Source: true}, warnings: []string{fmt.Sprintf(fallback, "public-address discovery is off")}},
		{name: "the other family failed: not claimed, no Source", routes: bothNAT, public: map[netip.Addr]netip.Addr{natV4: pubV4},
			claim: derive.Claim{Addrs: []netip.Addr{pubV4}}, finds: "find 10.0.0.2 fd00::2"},
		{name: "--public-ip stands for its family", routes: bothNAT, public: map[netip.Addr]netip.Addr{natV6: pubV6}, given: "198.19.8.8",
			claim: derive.Claim{Addrs: []netip.Addr{pubV6, netip.MustParseAddr("198.19.8.8")}}, finds: "find fd00::2"},
		{name: "no source: refused", routes: natRoutes, public: map[netip.Addr]netip.Addr{}, noSource: true, finds: "find 10.0.0.2",
			err: "NAT: your route source 10.0.0.2 is not a global address and " + failed + ", and the Source fallback is refused: pass --public-ip ADDR, your address as the server sees it, or --stun HOST:PORT"},
		{name: "no source, discovery off: refused", routes: natRoutes, noSource: true,
			err: "NAT: your route source 10.0.0.2 is not a global address and public-address discovery is off, and the Source fallback is refused: pass --public-ip ADDR, your address as the server sees it, or --stun HOST:PORT"},
		{name: "no source, discovered: fine", routes: natRoutes, public: map[netip.Addr]netip.Addr{natV4: pubV4}, noSource: true,
			claim: derive.Claim{Addrs: []netip.Addr{pubV4, cliV6}}, finds: "find 10.0.0.2"},
		{name: "no NAT: nothing asked", routes: dualRoutes, public: map[netip.Addr]netip.Addr{}, noSource: true,
			claim: derive.Claim{Addrs: []netip.Addr{cliV4, cliV6}}},
		{name: "a dry run asks nothing", host: "198.18.0.1", routes: natRoutes, public: map[netip.Addr]netip.Addr{natV4: pubV4}, dryRun: true,
			claim: derive.Claim{Source: true}, warnings: []string{fmt.Sprintf(fallback, "a dry run sends no STUN request")}},
		{name: "source-bound: the tag binds the discovered address", routes: natRoutes, public: map[netip.Addr]netip.Addr{natV4: pubV4}, bound: true,
			claim: derive.Claim{Addrs: []netip.Addr{pubV4, cliV6}}, src: pubV4, finds: "find 10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFinder{public: tt.public}
			c := &Client{Clock: clocktest.NewFake(time.Unix(1_800_000_000, 0)), Resolver: res, Route: routes(tt.routes)}
			if tt.public != nil {
				c.Finder = f
			}
			host := tt.host
			if host == "" {
				host = "v4first.example"
			}
			p := testProfile(host, derive.ModePacket)
			p.BindSource = tt.bound
			o := Options{NoSource: tt.noSource, DryRun: tt.dryRun}
			if tt.given != "" {
				o.PublicIP = netip.MustParseAddr(tt.given)
			}
			pl, err := c.Plan(context.Background(), p, o)
			if diff := cmp.Diff(tt.finds, f.String()); diff != "" {
				t.Errorf("finds (-want +got):\n%s", diff)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v\nwant %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.claim, pl.Request.Claim, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("claim (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, pl.Warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if pl.Request.Src != tt.src {
				t.Errorf("bound source %v, want %v", pl.Request.Src, tt.src)
			}
			if want := tt.routes[srvV4] != cliV4; pl.NAT != want {
				t.Errorf("NAT %v, want %v", pl.NAT, want)
			}
		})
	}
}

// TestDiscoveryShown checks what the user sees: Describe names the
// discovered address and its age, and Knock says the Source fallback on
// Status (not only in verbose output).
func TestDiscoveryShown(t *testing.T) {
	natV4 := netip.MustParseAddr("10.0.0.2")
	c := &Client{Clock: clocktest.NewFake(time.Unix(1_800_000_000, 0)), Route: routes(map[netip.Addr]netip.Addr{srvV4: natV4}),
		Finder: &fakeFinder{public: map[netip.Addr]netip.Addr{natV4: netip.MustParseAddr("198.19.7.7")}}}
	pl, err := c.Plan(context.Background(), testProfile("198.18.0.1", derive.ModePacket), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pl.Describe(&b)
	want := `profile gw1: packet knock to 198.18.0.1
source: 10.0.0.2 (the route's)
public address: IPv4 198.19.7.7 for 10.0.0.2 from stun.example:3478, 42s old (cached)
claim: 198.19.7.7; the packet's source not claimed
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("describe (-want +got):\n%s", diff)
	}
	c.Finder = nil
	var status bytes.Buffer
	c.Status, c.Writer = &status, plainWriter{}
	pl, err = c.Plan(context.Background(), testProfile("198.18.0.1", derive.ModePacket), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Knock(context.Background(), pl, 0) // plainWriter fails the send; the warning comes first
	if got := strings.Count(status.String(), "\n"); got != 1 || !strings.HasPrefix(status.String(), "NAT: your route source 10.0.0.2 is not a global address and public-address discovery is off") {
		t.Errorf("status:\n%s\nwant one line on the Source fallback", status.String())
	}
}

// TestKnockFallsBackToSource checks a NAT that maps to another address
// toward the server than toward the STUN server: the service stays
// closed after the knock claiming the discovered address, and the next
// knock, in the next step, asks for the packet's source instead of
// claiming that address, and says so; with NoSource it does not.
func TestKnockFallsBackToSource(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	natV4 := netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		name     string
		noSource bool
		want     []string // step and claim of each packet
		status   string   // a line Status must hold; "": none about Source
		finds    string
		err      error
	}{
		{name: "falls back", finds: "find 10.0.0.2\nforget 10.0.0.2", want: []string{
			"60000000 198.19.7.7; the packet's source not claimed", "60000001 no address; the packet's source too (NAT)"},
			status: "198.18.0.1:22 still closed after claiming your public address 198.19.7.7 (a NAT may map to another address toward the server): knocking again with the server opening the address the knock comes from"},
		{name: "no source: the same claim again", noSource: true, finds: "find 10.0.0.2", err: sender.ErrStillClosed, want: []string{
			"60000000 198.19.7.7; the packet's source not claimed", "60000001 198.19.7.7; the packet's source not claimed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clocktest.NewFake(start.Add(10 * time.Second))
			f := &sendertest.Fake{Clock: c, Start: start}
			var status bytes.Buffer
			finder := &fakeFinder{public: map[netip.Addr]netip.Addr{natV4: netip.MustParseAddr("198.19.7.7")}}
			p := testProfile("198.18.0.1", derive.ModePacket)
			// The service opens only after a knock that lets the server
			// open the packet's source: the NAT's address toward the
			// server is not the one discovered.
			opens := func(time.Time) bool {
				cs := packetClaims(t, f, p, 60000000, 60000001)
				return len(cs) > 0 && strings.HasSuffix(cs[len(cs)-1], "(NAT)")
			}
			cl := &Client{Clock: c, Writer: f, Route: routes(map[netip.Addr]netip.Addr{srvV4: natV4}), State: memState{}, Rand: &counter{},
				Status: &status, Finder: finder,
				Prober: &sendertest.FakeProber{Clock: c, Open: opens}}
			pl, err := cl.Plan(context.Background(), p, Options{Wait: 22, Timeout: 2 * time.Second, NoSource: tt.noSource})
			if err != nil {
				t.Fatal(err)
			}
			got, err := cl.Knock(context.Background(), pl, 1)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && got.Attempts != 2 {
				t.Errorf("attempts %d, want 2", got.Attempts)
			}
			claims := packetClaims(t, f, p, 60000000, 60000001)
			if diff := cmp.Diff(tt.want, dedupe(claims)); diff != "" {
				t.Errorf("packets (-want +got):\n%s\nsent:\n%s", diff, f)
			}
			if diff := cmp.Diff(tt.finds, finder.String()); diff != "" {
				t.Errorf("finder (-want +got):\n%s", diff)
			}
			if tt.status != "" && !strings.Contains(status.String(), tt.status+"\n") {
				t.Errorf("status:\n%s\nwant the line:\n%s", status.String(), tt.status)
			}
			if tt.status == "" && strings.Contains(status.String(), "address the knock comes from") {
				t.Errorf("status:\n%s\nwant no fallback", status.String())
			}
		})
	}
}

// TestFallbackClaim checks the claim of the Source fallback: Source
// set, the discovered address dropped, the other family's address kept,
// and the plan's claim left as it was.
func TestFallbackClaim(t *testing.T) {
	pub, v6 := netip.MustParseAddr("198.19.7.7"), netip.MustParseAddr("2001:2:2::2")
	tests := []struct {
		name string
		in   derive.Claim
		want derive.Claim
	}{
		{name: "discovered only", in: derive.Claim{Addrs: []netip.Addr{pub}}, want: derive.Claim{Source: true}},
		{name: "the other family kept", in: derive.Claim{Addrs: []netip.Addr{pub, v6}}, want: derive.Claim{Addrs: []netip.Addr{v6}, Source: true}},
		{name: "knocked over IPv6", in: derive.Claim{Addrs: []netip.Addr{v6, pub}}, want: derive.Claim{Addrs: []netip.Addr{v6}, Source: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ClaimString(tt.in)
			got := fallbackClaim(tt.in, pub)
			if diff := cmp.Diff(ClaimString(tt.want), ClaimString(got)); diff != "" {
				t.Errorf("claim (-want +got):\n%s", diff)
			}
			if after := ClaimString(tt.in); after != before {
				t.Errorf("the plan's claim changed from %q to %q", before, after)
			}
		})
	}
}

// packetClaims opens each packet of f with the first of steps that
// opens it and returns "step claim" lines.
func packetClaims(t *testing.T, f *sendertest.Fake, p profile.Profile, steps ...uint64) []string {
	t.Helper()
	pd, err := derive.NewPacket(p.Secret, p.ServerID, p.Params)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
next:
	for _, m := range payloadRE.FindAllStringSubmatch(f.String(), -1) {
		k, _ := derive.ParseKnock(m[2])
		payload, _ := hex.DecodeString(m[4])
		for _, s := range steps {
			if cl, err := pd.Open(payload, s, k, netip.Addr{}); err == nil {
				out = append(out, fmt.Sprintf("%d %s", s, ClaimString(cl)))
				continue next
			}
		}
		t.Errorf("packet %s opens in no step of %v", m[0], steps)
	}
	return out
}

// dedupe drops repeats in a row (a step's resends).
func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// TestPacketKnockStopsAfterOneRetry: a packet knock whose service stays
// closed knocks again once, not retries times, when its claim names
// addresses only: the server most likely refused the claim (a NAT the
// client does not recognise), which later steps cannot change. The
// error names the fixes. With a discovered address that one retry is
// the Source fallback. --nat marks a global-looking route source
// translated; a claim with Source keeps its retries.
func TestPacketKnockStopsAfterOneRetry(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	natV4 := netip.MustParseAddr("10.0.0.2")
	tests := []struct {
		name   string
		route  netip.Addr
		public map[netip.Addr]netip.Addr // the finder's table; nil: no finder
		nat    bool                      // Options.NAT
		want   []string                  // step and claim of each packet
		hint   string                    // in the error
	}{
		{name: "unrecognised NAT: one retry", route: cliV4, hint: "pass --nat, or --public-ip ADDR", want: []string{
			"60000000 198.18.0.2; the packet's source not claimed", "60000001 198.18.0.2; the packet's source not claimed"}},
		{name: "discovered: the retry is the Source fallback", route: natV4, public: map[netip.Addr]netip.Addr{natV4: netip.MustParseAddr("198.19.7.7")}, want: []string{
			"60000000 198.19.7.7; the packet's source not claimed", "60000001 no address; the packet's source too (NAT)"}},
		{name: "--nat with discovery: its address", route: cliV4, nat: true, public: map[netip.Addr]netip.Addr{cliV4: netip.MustParseAddr("198.19.7.7")}, want: []string{
			"60000000 198.19.7.7; the packet's source not claimed", "60000001 no address; the packet's source too (NAT)"}},
		{name: "--nat without discovery: Source keeps the retries", route: cliV4, nat: true, want: []string{
			"60000000 no address; the packet's source too (NAT)", "60000001 no address; the packet's source too (NAT)",
			"60000002 no address; the packet's source too (NAT)", "60000003 no address; the packet's source too (NAT)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clocktest.NewFake(start.Add(10 * time.Second))
			f := &sendertest.Fake{Clock: c, Start: start}
			p := testProfile("198.18.0.1", derive.ModePacket)
			cl := &Client{Clock: c, Writer: f, Route: routes(map[netip.Addr]netip.Addr{srvV4: tt.route}), State: memState{}, Rand: &counter{},
				Prober: &sendertest.FakeProber{Clock: c, Open: func(time.Time) bool { return false }}}
			if tt.public != nil {
				cl.Finder = &fakeFinder{public: tt.public}
			}
			pl, err := cl.Plan(context.Background(), p, Options{Wait: 22, Timeout: 2 * time.Second, NAT: tt.nat})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Knock(context.Background(), pl, 3)
			if !errors.Is(err, sender.ErrStillClosed) || !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("err = %v, want still closed naming %q", err, tt.hint)
			}
			claims := packetClaims(t, f, p, 60000000, 60000001, 60000002, 60000003)
			if diff := cmp.Diff(tt.want, dedupe(claims)); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
		})
	}
}
