package fleet_test

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otpknock/otpknock/fleet"
)

// BenchmarkFanout measures grant fan-out through an in-process NATS
// server: from the first member's Publish to the grant reaching the
// last of three pool members, one grant at a time (make bench-fleet runs
// it with 200 grants). It prints "fan-out p50 N ms p99 N ms" and reports
// the same as p50-ms and p99-ms. The firewall is not part of it: the
// daemon's grant to its kernel set is measured by the daemon's own
// benchmarks.
func BenchmarkFanout(b *testing.B) {
	srv := natsServer(b)
	admin := keyPair(b)
	arrived := make(chan time.Time, 16)
	var mu sync.Mutex
	seen := map[uint64]int{}
	onGrant := func(g fleet.Grant) {
		mu.Lock()
		seen[g.Step]++
		last := seen[g.Step] == 2
		mu.Unlock()
		if last {
			arrived <- time.Now()
		}
	}
	var first *fleet.Member
	for i, n := range []string{"m1", "m2", "m3"} {
		cfg := fleet.MemberConfig{Name: n, Identity: "vpn", Key: keyPair(b), Admin: admin.Public,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), OnGrant: onGrant}
		m, err := fleet.Join(b.Context(), dial(b, srv, n), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			first = m
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		first.Publish(fleet.Grant{User: "alice", Step: uint64(i), Open: []string{"tcp/22"}, Sent: start}, make([]byte, 32))
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(start))
		case <-time.After(5 * time.Second):
			b.Fatalf("grant %d did not reach every member", i)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)]
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	if b.N >= 100 {
		fmt.Printf("fan-out p50 %.2f ms p99 %.2f ms (%d grants, 3 members, in-process NATS)\n", ms(p50), ms(p99), b.N)
	}
}
