package sender_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/sender/sendertest"
)

var dst = netip.MustParseAddr("198.18.0.1")

func request() sender.Request {
	secret := []byte("0123456789abcdef0123456789abcdef")
	return sender.Request{Secret: secret, ServerID: "gw1", Params: derive.DefaultParams(), Dst: dst}
}

func want(t *testing.T, r sender.Request, step uint64, times ...string) string {
	t.Helper()
	ks, err := derive.Sequence(r.Secret, r.ServerID, r.Params, step, r.Src)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i, k := range ks {
		lines = append(lines, times[i]+" "+k.String()+" -> "+dst.String())
	}
	return strings.Join(lines, "\n")
}

// setup returns a knocker on a fake clock at second offset within step
// 60000000 (period 30 s).
func setup(offset time.Duration) (*sender.Knocker, *sendertest.Fake, *clocktest.Fake, *bytes.Buffer) {
	start := derive.StepStart(60000000, 30*time.Second)
	c := clocktest.NewFake(start.Add(offset))
	f := &sendertest.Fake{Clock: c, Start: start}
	var status bytes.Buffer
	return &sender.Knocker{Clock: c, Writer: f, Gap: 50 * time.Millisecond, Status: &status}, f, c, &status
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name     string
		offset   time.Duration
		edit     func(*sender.Request)
		step     uint64
		times    []string
		status   string
		gap      time.Duration
		errIs    error
		sendNone bool
	}{
		{name: "mid step", offset: 10 * time.Second, step: 60000000,
			times: []string{" 10.00s", " 10.05s", " 10.10s", " 10.15s"}},
		{name: "just enough left", offset: 30*time.Second - 650*time.Millisecond, step: 60000000,
			times: []string{" 29.35s", " 29.40s", " 29.45s", " 29.50s"}},
		{name: "too little left", offset: 30*time.Second - 640*time.Millisecond, step: 60000001,
			times: []string{" 30.00s", " 30.05s", " 30.10s", " 30.15s"}, status: "too little of this step is left to finish the sequence: waiting 600ms for the next step"},
		{name: "step already used", offset: 5 * time.Second, edit: func(r *sender.Request) { r.LastStep, r.HaveLast = 60000000, true }, step: 60000001,
			times: []string{" 30.00s", " 30.05s", " 30.10s", " 30.15s"}, status: "step 60000000 already used by this profile: waiting 25s for the next step"},
		{name: "older step used", offset: 5 * time.Second, edit: func(r *sender.Request) { r.LastStep, r.HaveLast = 59999999, true }, step: 60000000,
			times: []string{"  5.00s", "  5.05s", "  5.10s", "  5.15s"}},
		{name: "clock went back", offset: 5 * time.Second, edit: func(r *sender.Request) { r.LastStep, r.HaveLast = 60000100, true }, errIs: sender.ErrClockBehind, sendNone: true},
		{name: "custom gap", offset: 0, gap: time.Second, step: 60000000,
			times: []string{"  0.00s", "  1.00s", "  2.00s", "  3.00s"}},
		{name: "dry run", offset: 0, edit: func(r *sender.Request) { r.DryRun = true }, step: 60000000, sendNone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, f, _, status := setup(tt.offset)
			if tt.gap != 0 {
				k.Gap = tt.gap
			}
			r := request()
			if tt.edit != nil {
				tt.edit(&r)
			}
			res, err := k.Knock(context.Background(), r)
			if tt.errIs != nil {
				if !errors.Is(err, tt.errIs) {
					t.Fatalf("err = %v, want %v", err, tt.errIs)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if res.Step != tt.step {
				t.Errorf("step %d, want %d", res.Step, tt.step)
			}
			if tt.sendNone {
				if f.String() != "" {
					t.Errorf("sent packets:\n%s", f.String())
				}
			} else if got, w := f.String(), want(t, r, tt.step, tt.times...); got != w {
				t.Errorf("packets:\n%s\nwant:\n%s", got, w)
			}
			if got := strings.TrimSpace(status.String()); got != tt.status {
				t.Errorf("status %q, want %q", got, tt.status)
			}
		})
	}
}

// slowWriter takes a second per packet, so a sequence started in time
// still ends in the next step.
type slowWriter struct {
	*sendertest.Fake
	clock *clocktest.Fake
}

func (s slowWriter) Write(ctx context.Context, dst netip.Addr, k derive.Knock) (string, error) {
	how, err := s.Fake.Write(ctx, dst, k)
	s.clock.Advance(time.Second)
	return how, err
}

func TestStepLockedAtFirstKnock(t *testing.T) {
	k, f, c, _ := setup(28 * time.Second)
	k.Writer = slowWriter{f, c}
	r := request()
	res, err := k.Knock(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step != 60000000 {
		t.Fatalf("step %d, want the first knock's 60000000", res.Step)
	}
	if got, w := f.String(), want(t, r, 60000000, " 28.00s", " 29.05s", " 30.10s", " 31.15s"); got != w {
		t.Errorf("packets:\n%s\nwant:\n%s", got, w)
	}
}

func TestOpenRetries(t *testing.T) {
	tests := []struct {
		name     string
		openAt   time.Duration // the service answers from this offset on; <0 never
		retries  int
		attempts int
		elapsed  time.Duration
		err      error
	}{
		{name: "opens at once", openAt: 0, retries: 3, attempts: 1, elapsed: 200 * time.Millisecond},
		{name: "opens on the second probe", openAt: 10*time.Second + 300*time.Millisecond, retries: 3, attempts: 1, elapsed: 500 * time.Millisecond},
		{name: "opens after a retry in the next step", openAt: 30 * time.Second, retries: 3, attempts: 2, elapsed: 200 * time.Millisecond},
		{name: "never opens", openAt: -1, retries: 2, err: sender.ErrStillClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, f, c, _ := setup(10 * time.Second)
			start := derive.StepStart(60000000, 30*time.Second)
			p := &sendertest.FakeProber{Clock: c, Open: func(now time.Time) bool { return tt.openAt >= 0 && now.Sub(start) >= tt.openAt }}
			var recorded []uint64
			w := &sender.Wait{Prober: p, Addr: netip.AddrPortFrom(dst, 22), Timeout: 5 * time.Second}
			got, err := k.Open(context.Background(), request(), w, tt.retries, func(r sender.Result) error {
				recorded = append(recorded, r.Step)
				return nil
			})
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if len(recorded) != tt.retries+1 || strings.Count(f.String(), "\n")+1 != 4*(tt.retries+1) {
					t.Errorf("recorded %v, packets:\n%s", recorded, f.String())
				}
				for i := 1; i < len(recorded); i++ {
					if recorded[i] <= recorded[i-1] {
						t.Errorf("a retry reused step %d: %v", recorded[i], recorded)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Attempts != tt.attempts || got.Elapsed != tt.elapsed || got.Conn == nil {
				t.Errorf("attempts %d elapsed %v conn %v; want %d, %v", got.Attempts, got.Elapsed, got.Conn, tt.attempts, tt.elapsed)
			}
			if len(recorded) != tt.attempts {
				t.Errorf("recorded %v, want %d steps", recorded, tt.attempts)
			}
		})
	}
}

func TestWriteErrorNamesKnock(t *testing.T) {
	k, f, _, _ := setup(0)
	f.Err = errors.New("network is unreachable")
	_, err := k.Knock(context.Background(), request())
	if err == nil || !strings.Contains(err.Error(), "knock 1/4") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("err = %v", err)
	}
}

// earlyClock wakes from each sleep longer than a second 2 ms early (a
// timer on the monotonic clock while the wall clock is slewed back).
type earlyClock struct{ *clocktest.Fake }

func (e earlyClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > time.Second {
		d -= 2 * time.Millisecond
	}
	return e.Fake.Sleep(ctx, d)
}

// TestStepWaitWakesEarly: a knock after this step was used waits for
// the next step; when the sleep ends a little before the step begins,
// the knock is still the next step's, never the used step's again
// (which the server refuses while the client waits for its door).
func TestStepWaitWakesEarly(t *testing.T) {
	k, f, c, _ := setup(20 * time.Second)
	k.Clock = earlyClock{c}
	r := request()
	r.LastStep, r.HaveLast = 60000000, true
	res, err := k.Knock(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step != 60000001 {
		t.Errorf("step %d, want 60000001, the one after the used step", res.Step)
	}
	if got, w := f.String(), want(t, r, 60000001, " 30.00s", " 30.05s", " 30.10s", " 30.15s"); got != w {
		t.Errorf("packets:\n%s\nwant:\n%s", got, w)
	}
}
