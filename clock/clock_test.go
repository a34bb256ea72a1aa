package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeAndOffset(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	f := NewFake(start)
	f.Advance(90 * time.Second)
	if got := f.Now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Errorf("after Advance: %v", got)
	}
	o := Offset{Clock: f, By: -40 * time.Second}
	if got := o.Now(); !got.Equal(start.Add(50 * time.Second)) {
		t.Errorf("Offset.Now() = %v, want %v", got, start.Add(50*time.Second))
	}
	if err := o.Sleep(context.Background(), 10*time.Second); err != nil || !f.Now().Equal(start.Add(100*time.Second)) {
		t.Errorf("Offset.Sleep: %v, fake at %v", err, f.Now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (System{}).Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("System.Sleep on a cancelled context = %v", err)
	}
	if err := f.Sleep(ctx, time.Second); err != context.Canceled {
		t.Errorf("Fake.Sleep on a cancelled context = %v", err)
	}
	f.Set(start)
	if !f.Now().Equal(start) {
		t.Errorf("after Set: %v", f.Now())
	}
	if d := time.Since(System{}.Now()); d < 0 || d > time.Minute {
		t.Errorf("System clock is %v away from time.Now", d)
	}
}
