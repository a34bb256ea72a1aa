package clock_test

import (
	"context"
	"errors"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/clock/clocktest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Unix(1_800_000_000, 0)

// at is t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestFakeMoves(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name    string
		move    func(f *clocktest.Fake) error
		want    time.Time
		wantErr error
	}{
		{"advance", func(f *clocktest.Fake) error { f.Advance(90 * time.Second); return nil }, at(90), nil},
		{"advance backwards", func(f *clocktest.Fake) error { f.Advance(-40 * time.Second); return nil }, at(-40), nil},
		{"set", func(f *clocktest.Fake) error { f.Set(at(1234)); return nil }, at(1234), nil},
		{"sleep advances", func(f *clocktest.Fake) error { return f.Sleep(ctx, 7*time.Second) }, at(7), nil},
		{"sleep of nothing", func(f *clocktest.Fake) error { return f.Sleep(ctx, -time.Second) }, at(0), nil},
		{"sleep on a cancelled context stays", func(f *clocktest.Fake) error { return f.Sleep(cancelled, time.Hour) }, at(0), context.Canceled},
		{"offset sleeps on the inner clock", func(f *clocktest.Fake) error { return clock.Offset{Clock: f, By: time.Hour}.Sleep(ctx, 3*time.Second) }, at(3), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clocktest.NewFake(t0)
			if err := tt.move(f); !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := f.Now(); !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOffsetNow(t *testing.T) {
	f := clocktest.NewFake(t0)
	for _, by := range []time.Duration{-40 * time.Second, 0, 90 * time.Minute} {
		if got := (clock.Offset{Clock: f, By: by}).Now(); !got.Equal(t0.Add(by)) {
			t.Errorf("Offset by %v: Now() = %v, want %v", by, got, t0.Add(by))
		}
	}
}

// received moves f with move on another goroutine and returns the ticks
// tk received meanwhile: the move returns only after they were taken, so
// none is missed.
func received(f *clocktest.Fake, move func(*clocktest.Fake), tk clock.Ticker) []time.Time {
	done := make(chan struct{})
	go func() {
		move(f)
		close(done)
	}()
	var got []time.Time
	for {
		select {
		case at := <-tk.C():
			got = append(got, at)
		case <-done:
			return got
		}
	}
}

func TestFakeTicker(t *testing.T) {
	f := clocktest.NewFake(t0)
	tk := f.NewTicker(10 * time.Second)
	steps := []struct {
		name string
		move func(*clocktest.Fake)
		want []time.Time
	}{
		{"before the first tick", func(f *clocktest.Fake) { f.Advance(9 * time.Second) }, nil},
		{"at the first tick", func(f *clocktest.Fake) { f.Advance(time.Second) }, []time.Time{at(10)}},
		{"over two ticks: one, the later", func(f *clocktest.Fake) { f.Advance(25 * time.Second) }, []time.Time{at(30)}},
		{"the next is an interval after the last", func(f *clocktest.Fake) { f.Advance(5 * time.Second) }, []time.Time{at(40)}},
		{"set forward, short of a tick", func(f *clocktest.Fake) { f.Set(at(49)) }, nil},
		{"set backwards", func(f *clocktest.Fake) { f.Set(at(20)) }, nil},
		{"set forward onto a tick", func(f *clocktest.Fake) { f.Set(at(50)) }, []time.Time{at(50)}},
		{"sleep through a tick", func(f *clocktest.Fake) { f.Sleep(context.Background(), 12*time.Second) }, []time.Time{at(60)}},
	}
	for _, s := range steps {
		got := received(f, s.move, tk)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: ticks (-want +got):\n%s", s.name, diff)
		}
	}
	tk.Stop()
	if got := received(f, func(f *clocktest.Fake) { f.Advance(time.Hour) }, tk); len(got) != 0 {
		t.Errorf("a stopped ticker ticked: %v", got)
	}
}

func TestFakeTickersInTimeOrder(t *testing.T) {
	f := clocktest.NewFake(t0)
	slow, fast := f.NewTicker(3*time.Second), f.NewTicker(2*time.Second)
	defer slow.Stop()
	defer fast.Stop()
	var order []string
	done := make(chan struct{})
	go func() {
		f.Advance(3 * time.Second)
		close(done)
	}()
	for len(order) < 2 {
		select {
		case at := <-slow.C():
			order = append(order, "slow "+at.Sub(t0).String())
		case at := <-fast.C():
			order = append(order, "fast "+at.Sub(t0).String())
		}
	}
	<-done
	if diff := cmp.Diff([]string{"fast 2s", "slow 3s"}, order); diff != "" {
		t.Errorf("tick order (-want +got):\n%s", diff)
	}
}

func TestWaitTickers(t *testing.T) {
	f := clocktest.NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.WaitTickers(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitTickers with no ticker and a cancelled context = %v", err)
	}
	made := make(chan clock.Ticker)
	go func() { made <- f.NewTicker(time.Second) }()
	if err := f.WaitTickers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	tk := <-made
	tk.Stop()
	if err := f.WaitTickers(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitTickers counted a stopped ticker: %v", err)
	}
}

func TestOffsetTicksOnInnerClock(t *testing.T) {
	f := clocktest.NewFake(t0)
	tk := clock.Offset{Clock: f, By: time.Hour}.NewTicker(5 * time.Second)
	defer tk.Stop()
	if got := received(f, func(f *clocktest.Fake) { f.Advance(5 * time.Second) }, tk); !cmp.Equal(got, []time.Time{at(5)}) {
		t.Errorf("offset ticker: %v, want [%v]", got, at(5))
	}
}

func TestSystem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (clock.System{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("System.Sleep on a cancelled context = %v", err)
	}
	began := time.Now()
	if err := (clock.System{}).Sleep(context.Background(), 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < 5*time.Millisecond {
		t.Errorf("System.Sleep(5ms) returned after %v", waited)
	}
	tk := clock.System{}.NewTicker(time.Millisecond)
	defer tk.Stop()
	before := clock.System{}.Now()
	if at := <-tk.C(); at.Before(before.Add(-time.Millisecond)) {
		t.Errorf("system tick at %v, before the ticker started (%v)", at, before)
	}
}
