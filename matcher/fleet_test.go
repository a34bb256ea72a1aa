package matcher

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// pool is a fake of the fleet's used steps: (user, step) once, or down.
type pool struct {
	used  map[string]bool
	down  bool
	calls int
}

func (p *pool) use(user string, step uint64) error {
	p.calls++
	if p.down {
		return errors.New("fleet store unreachable")
	}
	k := fmt.Sprintf("%s/%d", user, step)
	if p.used[k] {
		return fmt.Errorf("pool: %w", ErrStepUsed)
	}
	p.used[k] = true
	return nil
}

// TestPoolUse: with a pool, a fresh knock is a grant only if the pool
// has not seen its (user, step) (another member's grant makes it a
// replay); an unreachable pool under fleet_unavailable: refuse refuses
// it; a fleet user derives with its own server id.
func TestPoolUse(t *testing.T) {
	secret := []byte("dave's secret has 32 bytes too!!")
	users := []User{{Name: "dave", Secret: secret, Open: ssh, ServerID: "vpn.example.org"}}
	seq, err := derive.Sequence(secret, "vpn.example.org", derive.DefaultParams(), stepT, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	knock := func(m *Matcher, at time.Duration, src netip.Addr) []string {
		var ps []pkt
		for i, k := range seq {
			ps = append(ps, pkt{at + time.Duration(i)*10*time.Millisecond, src, k})
		}
		return send(t, m, ps)
	}
	tests := []struct {
		name     string
		setup    func(*pool)
		want     []string
		wantCall int
	}{
		{"first in the pool", func(*pool) {}, []string{"grant dave 198.18.0.2 step=T+0"}, 1},
		{"another member granted it", func(p *pool) { p.used["dave/60000000"] = true }, []string{"replay dave 198.18.0.2 step=T+0"}, 1},
		{"pool unreachable, refuse", func(p *pool) { p.down = true }, []string{"refused dave 198.18.0.2 step=T+0"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pool{used: map[string]bool{}}
			tt.setup(p)
			m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
				StrayTolerance: DefaultStrayTolerance, UseStep: p.use}, users, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, knock(m, 0, client)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if p.calls != tt.wantCall {
				t.Errorf("pool asked %d times, want %d", p.calls, tt.wantCall)
			}
		})
	}
	t.Run("a local replay does not ask the pool", func(t *testing.T) {
		p := &pool{used: map[string]bool{}}
		m, _ := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
			StrayTolerance: DefaultStrayTolerance, UseStep: p.use}, users, nil)
		got := append(knock(m, 0, client), knock(m, time.Second, other)...)
		want := []string{"grant dave 198.18.0.2 step=T+0", "replay dave 198.18.0.3 step=T+0"}
		if diff := cmp.Diff(want, got); diff != "" || p.calls != 1 {
			t.Errorf("events (-want +got):\n%s; pool calls %d, want 1", diff, p.calls)
		}
	})
}
