package clock

import (
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
	f.Set(start)
	if !f.Now().Equal(start) {
		t.Errorf("after Set: %v", f.Now())
	}
	if d := time.Since(System{}.Now()); d < 0 || d > time.Minute {
		t.Errorf("System clock is %v away from time.Now", d)
	}
}
