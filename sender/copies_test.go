package sender_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// TestPacketCopies holds a packet knock's copies to docs/spec.md section
// 11.7: none once the service answers, at most Resends while it stays
// closed, none within the step's margin (0.5 s) of its end or after it,
// and none when the service cannot be tested (no Wait).
func TestPacketCopies(t *testing.T) {
	client := netip.MustParseAddr("198.18.0.2")
	for _, tc := range []struct {
		name   string
		offset time.Duration // into the step, at the first packet
		openAt time.Duration // from the step's start; -1: never
		wait   bool
		want   []string // when each packet left, into the step
	}{
		{"open at once: no copy", 10 * time.Second, 0, true, []string{" 10.00s"}},
		{"open after the first copy: one copy", 10 * time.Second, 10*time.Second + 305*time.Millisecond, true, []string{" 10.00s", " 10.30s"}},
		{"never open: three copies", 10 * time.Second, -1, true, []string{" 10.00s", " 10.30s", " 10.60s", " 10.90s"}},
		{"late in the step: copies stop at the margin", 29 * time.Second, -1, true, []string{" 29.00s", " 29.30s"}},
		{"just inside the margin: no copy", 29*time.Second + 400*time.Millisecond, -1, true, []string{" 29.40s"}},
		{"no service to test: no copy", 10 * time.Second, -1, false, []string{" 10.00s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, f, c, _ := setup(tc.offset)
			start := derive.StepStart(60000000, 30*time.Second)
			r := request()
			r.Mode, r.Claim = derive.ModePacket, derive.Claim{Addrs: []netip.Addr{client}}
			var w *sender.Wait
			if tc.wait {
				p := &sendertest.FakeProber{Clock: c, Open: func(now time.Time) bool { return tc.openAt >= 0 && now.Sub(start) >= tc.openAt }}
				w = &sender.Wait{Prober: p, Addr: netip.AddrPortFrom(dst, 22), Timeout: 5 * time.Second}
			}
			_, err := k.Open(context.Background(), r, w, 0, nil)
			if (err == nil) != (tc.openAt >= 0 || !tc.wait) {
				t.Errorf("Open: %v", err)
			}
			var got []string
			for _, line := range strings.Split(f.String(), "\n") {
				if !strings.Contains(line, " payload ") {
					t.Fatalf("not a packet knock: %q", line)
				}
				got = append(got, line[:7])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("packets sent (-want +got):\n%s", diff)
			}
		})
	}
}

// skewServer models the server's step check for packet knocks: a packet
// of step T sent at t arrives latency later and is accepted when the
// server's step then is within skew of T; the service answers from then.
type skewServer struct {
	clock   *clocktest.Fake
	skew    uint64
	latency time.Duration
	sent    []sentPacket
}

type sentPacket struct {
	step uint64
	at   time.Time
}

func (s *skewServer) onSent(at func() time.Time) func(uint64, int, derive.Knock, int) {
	return func(step uint64, _ int, _ derive.Knock, _ int) { s.sent = append(s.sent, sentPacket{step, at()}) }
}

// Probe answers as soon as the service opens within timeout, looking
// every 5 ms of the fake clock (a connect returns one way's latency
// after the grant; the model's latency is the knock's alone).
func (s *skewServer) Probe(_ context.Context, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	for waited := time.Duration(0); ; waited += 5 * time.Millisecond {
		if s.open(s.clock.Now()) {
			c, srv := net.Pipe()
			srv.Close()
			return c, nil
		}
		if waited >= timeout {
			return nil, fmt.Errorf("dial tcp %v: i/o timeout", addr)
		}
		s.clock.Advance(5 * time.Millisecond)
	}
}

func (s *skewServer) open(now time.Time) bool {
	for _, p := range s.sent {
		arrive := p.at.Add(s.latency)
		server := derive.Step(arrive, 30*time.Second)
		if !arrive.After(now) && server <= p.step+s.skew && p.step <= server+s.skew {
			return true
		}
	}
	return false
}

// TestLatePacket: a packet knock late in its step (0.2 s before the
// boundary) leaves at once, not at the next step; only when the service
// is still closed at the next step's start (the packet may reach a
// server with skew 0 in the next step, which refuses it), or when there
// is no service to test, does that step's packet follow at its start.
// Knock-to-open is then at most the time to the boundary plus the
// packet's latency. Sequences still wait for the next step.
func TestLatePacket(t *testing.T) {
	client := netip.MustParseAddr("198.18.0.2")
	const s = 60000000
	for _, tc := range []struct {
		name     string
		sequence bool
		skew     uint64
		latency  time.Duration
		wait     bool
		want     []string // when each packet left, into the step
		recorded []uint64
		elapsed  time.Duration // first packet to the answer
	}{
		{name: "arrives within the step: sent at once, opens, no second", skew: 0, latency: 50 * time.Millisecond, wait: true,
			want: []string{" 29.80s"}, recorded: []uint64{s}, elapsed: 50 * time.Millisecond},
		{name: "skew 0, arrives in the next step: again at its start", skew: 0, latency: 250 * time.Millisecond, wait: true,
			want: []string{" 29.80s", " 30.00s"}, recorded: []uint64{s, s + 1}, elapsed: 450 * time.Millisecond},
		{name: "skew 1, arrives in the next step: the late one opens", skew: 1, latency: 250 * time.Millisecond, wait: true,
			want: []string{" 29.80s", " 30.00s"}, recorded: []uint64{s, s + 1}, elapsed: 250 * time.Millisecond},
		{name: "no service to test: again at the next step's start", skew: 1, latency: 250 * time.Millisecond,
			want: []string{" 29.80s", " 30.00s"}, recorded: []uint64{s, s + 1}},
		{name: "sequence: waits for the next step", sequence: true, skew: 0, latency: 250 * time.Millisecond,
			want: []string{" 30.00s", " 30.05s", " 30.10s", " 30.15s"}, recorded: []uint64{s + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, f, c, _ := setup(30*time.Second - 200*time.Millisecond)
			srv := &skewServer{clock: c, skew: tc.skew, latency: tc.latency}
			k.OnSent = srv.onSent(c.Now)
			r := request()
			if !tc.sequence {
				r.Mode, r.Claim = derive.ModePacket, derive.Claim{Addrs: []netip.Addr{client}}
			}
			var w *sender.Wait
			if tc.wait {
				w = &sender.Wait{Prober: srv, Addr: netip.AddrPortFrom(dst, 22), Timeout: 5 * time.Second}
			}
			var recorded []uint64
			got, err := k.Open(context.Background(), r, w, 0, func(res sender.Result) error {
				recorded = append(recorded, res.Step)
				return nil
			})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			var times []string
			for _, line := range strings.Split(f.String(), "\n") {
				times = append(times, line[:7])
			}
			if diff := cmp.Diff(tc.want, times); diff != "" {
				t.Errorf("packets sent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.recorded, recorded); diff != "" {
				t.Errorf("steps recorded (-want +got):\n%s", diff)
			}
			if tc.wait && got.Elapsed != tc.elapsed {
				t.Errorf("knock to open %v, want %v", got.Elapsed, tc.elapsed)
			}
		})
	}
}
