package publicaddr

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
)

// BenchmarkFind measures what discovery adds to a knock against an
// in-process responder on 127.0.0.1: nocache, a binding request and its
// answer alone; cold, a binding request and its
// answer, then the cache's write (the entry went stale: the clock moves
// past the TTL each time); warm, a read of a fresh cache entry.
func BenchmarkFind(b *testing.B) {
	srv := listenLoopback(b)
	local := netip.MustParseAddr("127.0.0.1")
	for _, bc := range []struct {
		name        string
		warm, cache bool
	}{{"nocache", false, false}, {"cold", false, true}, {"warm", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			cache := &Cache{Path: filepath.Join(b.TempDir(), "publicaddr.json")}
			c := clocktest.NewFake(time.Unix(1_800_000_000, 0))
			f := &Finder{Servers: []string{srv}, Accept: loopback, Cache: cache, Clock: c}
			if bc.warm {
				if r := f.Find(context.Background(), local)[0]; r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			if !bc.cache {
				f.Cache = nil
			}
			for b.Loop() {
				if !bc.warm {
					c.Advance(DefaultTTL)
				}
				r := f.Find(context.Background(), local)[0]
				if r.Err != nil || r.Cached != bc.warm {
					b.Fatalf("%v, cached %v", r.Err, r.Cached)
				}
			}
		})
	}
}
