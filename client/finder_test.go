package client

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/publicaddr/publicaddrtest"
)

var _ Finder = (*publicaddr.Finder)(nil)

// TestPlanWithFinder plans packet knocks through the real Finder and
// its cache against a STUN responder on 127.0.0.1: the route source
// 127.0.0.1 stands for a translated address (not global, while the
// server's is). The first plan asks the responder, the second within
// the TTL takes the cache, the third after it asks again.
func TestPlanWithFinder(t *testing.T) {
	srv := publicaddrtest.Listen(t, "udp4", "127.0.0.1:0")
	local := netip.MustParseAddr("127.0.0.1")
	c := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	f := &publicaddr.Finder{Servers: []string{srv.Addr()}, Clock: c, Accept: func(a netip.Addr) bool { return a.IsLoopback() },
		Cache: &publicaddr.Cache{Path: filepath.Join(t.TempDir(), "publicaddr.json"), TTL: time.Minute}}
	cl := &Client{Clock: c, Route: routes(map[netip.Addr]netip.Addr{srvV4: local}), Finder: f}
	for i, s := range []struct {
		advance  time.Duration
		requests int
		cached   bool
		age      time.Duration
	}{{0, 1, false, 0}, {30 * time.Second, 1, true, 30 * time.Second}, {30 * time.Second, 2, false, 0}} {
		c.Advance(s.advance)
		pl, err := cl.Plan(context.Background(), testProfile("198.18.0.1", derive.ModePacket), Options{NoSource: true})
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
		if got := ClaimString(pl.Request.Claim); got != "127.0.0.1; the packet's source not claimed" {
			t.Errorf("plan %d: claim %s", i, got)
		}
		if len(pl.Public) != 1 || pl.Public[0].Cached != s.cached || pl.Public[0].Age != s.age || srv.Requests() != s.requests {
			t.Errorf("plan %d: public %v, %d requests; want cached %v, age %v, %d requests", i, pl.Public, srv.Requests(), s.cached, s.age, s.requests)
		}
	}
}
