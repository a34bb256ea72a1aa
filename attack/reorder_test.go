//go:build linux

package attack

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestReorderAndJitterEmulated emulates at the sender what tc netem would
// do on the way (this kernel has no sch_netem): gaps of 50 ms +- 10 ms,
// and each knock overtaking its predecessor with probability 25%. Like
// the client, a failed sequence is sent again in the next step, twice at
// most. The figure compares the success rate with the expectation for
// an ordered sequence: 1-(1-0.75^3)^3 = 80.7% under reordering.
func TestReorderAndJitterEmulated(t *testing.T) {
	a := newArena(t, 20, nil)
	r := openRaw(t, a.l, a.l.Client)
	rng := rand.New(rand.NewPCG(5, 6))
	rounds := scale(6, 100)
	for _, c := range []struct {
		name    string
		reorder float64
		jitter  time.Duration
	}{{"delay jitter 50ms +-10ms between knocks", 0, 10 * time.Millisecond}, {"25% reordering", 0.25, 0}} {
		ok := 0
		for range rounds {
			u := a.users[a.rot%(len(a.users)-1)]
			a.rot++
			mine := "msg=grant src=198.18.2.2 user=" + u.name + " "
			before := strings.Count(a.log.String(), mine)
			for attempt := 0; attempt < 3 && strings.Count(a.log.String(), mine) == before; attempt++ {
				a.nextStep()
				ks := a.seqOf(u, a.step(), netip.Addr{})
				order := append([]derive.Knock(nil), ks...)
				for i := 1; i < len(order); i++ {
					if rng.Float64() < c.reorder {
						order[i-1], order[i] = order[i], order[i-1]
					}
				}
				for _, k := range order {
					r.send(a.l.ClientV4, a.l.ServerV4, k)
					time.Sleep(50*time.Millisecond + time.Duration(rng.Int64N(int64(2*c.jitter+1))) - c.jitter)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if strings.Count(a.log.String(), mine) > before {
				ok++
			}
		}
		want := 1 - math.Pow(1-math.Pow(1-c.reorder, 3), 3)
		figure(t, "network (emulated at the sender): "+c.name, "success %d/%d (%.0f%%; expected %.1f%% for an ordered sequence with 2 retries)",
			ok, rounds, 100*float64(ok)/float64(rounds), 100*want)
		if c.reorder == 0 && ok != rounds {
			t.Errorf("%s: %d of %d opened", c.name, ok, rounds)
		}
	}
}
