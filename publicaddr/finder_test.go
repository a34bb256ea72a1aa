package publicaddr

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
)

var (
	localV4 = netip.MustParseAddr("10.0.0.2")
	localV6 = netip.MustParseAddr("fd00::2")
	pubV4   = netip.MustParseAddr("11.22.33.44")
	pubV6   = netip.MustParseAddr("2600::44")
	srvA4   = netip.MustParseAddrPort("192.0.2.1:3478")
	srvB4   = netip.MustParseAddrPort("192.0.2.2:3478")
	srvA6   = netip.MustParseAddrPort("[2001:db8::1]:3478")
	names   = fakeResolver{"a.example": {srvA4.Addr(), srvA6.Addr()}, "b.example": {srvB4.Addr()}}
)

// fastTimeout keeps the tests of unanswered requests short.
const fastTimeout = 30 * time.Millisecond

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		servers []string
		net     map[netip.AddrPort]*fakeServer
		locals  []netip.Addr
		want    []string // "local public server" or "local error: text"
		log     string
	}{
		{name: "one server", servers: []string{"a.example:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {mapped: pubV4}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 11.22.33.44 a.example:3478"},
			log: "10.0.0.2 -> 192.0.2.1:3478 answered"},
		{name: "both families in parallel", servers: []string{"a.example:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {mapped: pubV4}, srvA6: {mapped: pubV6}},
			locals: []netip.Addr{localV4, localV6}, want: []string{"10.0.0.2 11.22.33.44 a.example:3478", "fd00::2 2600::44 a.example:3478"},
			log: "10.0.0.2 -> 192.0.2.1:3478 answered\nfd00::2 -> [2001:db8::1]:3478 answered"},
		{name: "the answering server wins", servers: []string{"a.example:3478", "b.example:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {drop: -1}, srvB4: {mapped: pubV4}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 11.22.33.44 b.example:3478"}},
		{name: "one retry", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {drop: 1, mapped: pubV4}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 11.22.33.44 192.0.2.1:3478"},
			log: "10.0.0.2 -> 192.0.2.1:3478 answered\n10.0.0.2 -> 192.0.2.1:3478 dropped"},
		{name: "no answer after the retry", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {drop: -1}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: IPv4 public address: 192.0.2.1:3478: no answer: context deadline exceeded"},
			log: "10.0.0.2 -> 192.0.2.1:3478 dropped\n10.0.0.2 -> 192.0.2.1:3478 dropped"},
		{name: "a private mapped address is refused", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {mapped: netip.MustParseAddr("192.168.1.7")}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: IPv4 public address: 192.0.2.1:3478: answer from 192.0.2.1:3478: mapped address 192.168.1.7 is not a global address"}},
		{name: "a mapped address of the other family is refused", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {mapped: pubV6}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: IPv4 public address: 192.0.2.1:3478: answer from 192.0.2.1:3478: mapped address 2600::44 is not of the IPv4 family"}},
		{name: "error response", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {reply: "error"}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: IPv4 public address: 192.0.2.1:3478: answer from 192.0.2.1:3478: binding error 500: Server Error"}},
		{name: "wrong transaction id", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {reply: "wrong id"}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: IPv4 public address: 192.0.2.1:3478: answer from 192.0.2.1:3478: not an answer to the request (transaction id)"}},
		{name: "not STUN", servers: []string{"192.0.2.1:3478"},
			net:    map[netip.AddrPort]*fakeServer{srvA4: {reply: "garbage"}},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: IPv4 public address: 192.0.2.1:3478: answer from 192.0.2.1:3478: not a STUN message: unexpected EOF: not enough bytes to read header"}},
		{name: "no server of the family", servers: []string{"b.example:3478"},
			locals: []netip.Addr{localV6}, want: []string{"fd00::2 error: IPv6 public address: b.example:3478: resolving: no such host"}},
		{name: "no server", servers: []string{},
			locals: []netip.Addr{localV4}, want: []string{"10.0.0.2 error: no STUN server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &fakeNet{servers: tt.net}
			f := &Finder{Servers: tt.servers, Exchanger: n, Resolver: names, Timeout: fastTimeout,
				Clock: clocktest.NewFake(time.Unix(1_800_000_000, 0))}
			var got []string
			for _, r := range f.Find(context.Background(), tt.locals...) {
				got = append(got, show(r))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s\nrequests:\n%s", diff, n)
			}
			if tt.log != "" {
				if diff := cmp.Diff(tt.log, n.String()); diff != "" {
					t.Errorf("requests (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func show(r Result) string {
	if r.Err != nil {
		return r.Local.String() + " error: " + r.Err.Error()
	}
	return strings.Join([]string{r.Local.String(), r.Public.String(), r.Server}, " ")
}

// TestFindCache checks that a fresh cached answer saves the round trip,
// reports its age, and that a stale one is asked again.
func TestFindCache(t *testing.T) {
	c := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	n := &fakeNet{servers: map[netip.AddrPort]*fakeServer{srvA4: {mapped: pubV4}}}
	cache := &Cache{Path: filepath.Join(t.TempDir(), "publicaddr.json"), TTL: time.Minute}
	f := &Finder{Servers: []string{"192.0.2.1:3478"}, Exchanger: n, Clock: c, Cache: cache}
	type step struct {
		advance  time.Duration
		requests int
		cached   bool
		age      time.Duration
	}
	for i, s := range []step{
		{requests: 1},
		{advance: 20 * time.Second, requests: 1, cached: true, age: 20 * time.Second},
		{advance: 39 * time.Second, requests: 1, cached: true, age: 59 * time.Second},
		{advance: time.Second, requests: 2},
		{advance: time.Second, requests: 2, cached: true, age: time.Second},
	} {
		c.Advance(s.advance)
		r := f.Find(context.Background(), localV4)[0]
		if r.Err != nil || r.CacheErr != nil {
			t.Fatalf("find %d: %v %v", i, r.Err, r.CacheErr)
		}
		got := step{advance: s.advance, requests: strings.Count(n.String(), "answered"), cached: r.Cached, age: r.Age}
		if got != s || r.Public != pubV4 {
			t.Errorf("find %d: %+v public %v, want %+v public %v", i, got, r.Public, s, pubV4)
		}
	}
}
