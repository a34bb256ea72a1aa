package daemon

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/internal/safefile"
)

// latencies keeps the fan-out latencies of the last pool grants applied
// here, for the p50 and p99 gauges.
type latencies struct {
	mu   sync.Mutex
	ring [1000]time.Duration
	n    int // how many were added, ever
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.n%len(l.ring)] = d
	l.n++
	l.mu.Unlock()
}

// quantile returns the q-quantile (0..1) of the kept latencies, in
// seconds; 0 before any.
func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	kept := slices.Clone(l.ring[:min(l.n, len(l.ring))])
	l.mu.Unlock()
	if len(kept) == 0 {
		return 0
	}
	slices.Sort(kept)
	return kept[min(len(kept)-1, int(q*float64(len(kept))))].Seconds()
}

// fleet registers the fleet's metrics: NATS connectivity, fan-out sent
// and failed, pool grants applied and failed, and their latency.
func (m *Metrics) fleet(d *Daemon) {
	fl := d.fleet
	if fl == nil {
		return
	}
	stat := func(f func() uint64) func() float64 { return func() float64 { return float64(f()) } }
	m.gaugeFunc("otpknock_fleet_connected", "1 while the fleet's NATS servers are reachable and watched, else 0: pool fan-out and pool-wide replay refusal are down.",
		func() float64 {
			if fl.member.Connected() {
				return 1
			}
			return 0
		})
	m.counterFunc("otpknock_fleet_fanout_sent_total", "Grants published to the other members of the pool.",
		stat(func() uint64 { return fl.member.Stats().FanoutSent }))
	m.counterFunc("otpknock_fleet_fanout_failures_total", "Grants that could not be published to the pool (NATS unreachable, queue full).",
		stat(func() uint64 { return fl.member.Stats().FanoutFailed }))
	m.counterFunc("otpknock_fleet_store_errors_total", "Calls to the fleet's store that failed.",
		stat(func() uint64 { return fl.member.Stats().StoreErrors }))
	m.counterFunc("otpknock_fleet_local_grants_total", "Grants made without the pool-wide used-step check, NATS being unreachable (fleet_unavailable: local).",
		stat(func() uint64 { return fl.member.Stats().LocalGrants }))
	m.counterFunc("otpknock_fleet_pool_grants_total", "Grants of other pool members applied here.", stat(fl.applied.Load))
	m.counterFunc("otpknock_fleet_pool_grant_failures_total", "Grants of other pool members that the firewall refused here.", stat(fl.peerFailed.Load))
	m.counterFunc("otpknock_fleet_pool_grants_rejected_total", "Pool grants not applied: not signed by a pool member, outside the window, or for a step already used here.", stat(fl.rejected.Load))
	m.gaugeFunc("otpknock_fleet_fanout_p50_seconds", "Median fan-out latency, from the granting member to this member's firewall, over the last 1000 pool grants.",
		func() float64 { return fl.lat.quantile(0.5) })
	m.gaugeFunc("otpknock_fleet_fanout_p99_seconds", "99th percentile of the same.",
		func() float64 { return fl.lat.quantile(0.99) })
}

// readPassword reads the NATS password from its file, which must be
// private to its owner.
func readPassword(path string) (string, error) {
	if err := safefile.CheckPrivate(path); err != nil {
		return "", fmt.Errorf("fleet.password_file: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("fleet.password_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
