package listener

import (
	"testing"
	"time"
)

// TestBatcher turns batching on past busyRate over a window, keeps it
// on while the rate stays over half of it, and turns it off once the
// rate has stayed under half of it for calmAfter.
func TestBatcher(t *testing.T) {
	t0 := time.Unix(1800000000, 0)
	type step struct {
		at          time.Duration // since t0
		messages    uint64        // read so far
		on, changed bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a knock is not a flood", []step{
			{0, 0, false, false}, {20 * time.Millisecond, 4, false, false}, {time.Second, 5, false, false}}},
		{"within a window nothing changes", []step{
			{0, 0, false, false}, {10 * time.Millisecond, 1000, false, false}}},
		{"a flood turns it on", []step{
			{0, 0, false, false}, {20 * time.Millisecond, 11, true, true}, {40 * time.Millisecond, 22, true, false}}},
		{"exactly busyRate does not", []step{
			{0, 0, false, false}, {20 * time.Millisecond, 10, false, false}}},
		{"half the rate keeps it on", []step{
			{0, 0, false, false}, {20 * time.Millisecond, 20, true, true},
			{1020 * time.Millisecond, 270, true, false}, {2020 * time.Millisecond, 520, true, false}}},
		{"calm for calmAfter turns it off", []step{
			{0, 0, false, false}, {20 * time.Millisecond, 20, true, true},
			{1020 * time.Millisecond, 20, true, false}, // calm from here
			{1500 * time.Millisecond, 20, true, false},
			{2020 * time.Millisecond, 20, false, true},
			{2040 * time.Millisecond, 20, false, false}}},
		{"a burst in the calm starts the calm again", []step{
			{0, 0, false, false}, {20 * time.Millisecond, 20, true, true},
			{1020 * time.Millisecond, 20, true, false},
			{1040 * time.Millisecond, 40, true, false}, // 1,000/s
			{2030 * time.Millisecond, 40, true, false}, // calm from here
			{3030 * time.Millisecond, 40, false, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b batcher
			for i, s := range tt.steps {
				on, changed := b.update(t0.Add(s.at), s.messages)
				if on != s.on || changed != s.changed {
					t.Fatalf("step %d (%v, %d messages): on %v changed %v, want on %v changed %v", i, s.at, s.messages, on, changed, s.on, s.changed)
				}
				if d := b.deadline(t0.Add(s.at)); d.IsZero() == on {
					t.Errorf("step %d: deadline %v while on is %v", i, d, on)
				}
			}
		})
	}
}
