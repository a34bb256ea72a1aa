package listener

import (
	"context"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
)

// TestBatcher turns batching on past busyRate over a window, with a
// queue threshold of what arrives in batchDelay (a power of two, 2 to
// maxQueue), changes the threshold only by a factor of four, keeps it
// while the rate stays over half of busyRate, and turns it off once the
// rate has stayed under that for calmAfter.
func TestBatcher(t *testing.T) {
	t0 := time.Unix(1800000000, 0)
	ms := time.Millisecond
	type step struct {
		at       time.Duration // since t0
		messages uint64        // read so far
		queue    uint32
		changed  bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a knock is not a flood", []step{
			{0, 0, 1, false}, {20 * ms, 4, 1, false}, {time.Second, 5, 1, false}}},
		{"within a window nothing changes", []step{
			{0, 0, 1, false}, {10 * ms, 1000, 1, false}}},
		{"exactly busyRate does not batch", []step{
			{0, 0, 1, false}, {20 * ms, 10, 1, false}}},
		{"past busyRate: a queue of 2 at least", []step{
			{0, 0, 1, false}, {20 * ms, 11, 2, true}, {40 * ms, 22, 2, false}}},
		{"the queue is what arrives in batchDelay", []step{
			{0, 0, 1, false}, {20 * ms, 1000, 64, true}}}, // 50,000/s: 100 in 2 ms
		{"and at most maxQueue", []step{
			{0, 0, 1, false}, {20 * ms, 100000000, maxQueue, true}}},
		{"a rate twice as high changes nothing", []step{
			{0, 0, 1, false}, {20 * ms, 1000, 64, true}, {40 * ms, 3000, 64, false}}},
		{"four times as high does", []step{
			{0, 0, 1, false}, {20 * ms, 1000, 64, true}, {40 * ms, 5000, 256, true}}},
		{"half of busyRate keeps it", []step{
			{0, 0, 1, false}, {20 * ms, 20, 2, true}, {1020 * ms, 270, 2, false}}},
		{"calm for calmAfter turns it off", []step{
			{0, 0, 1, false}, {20 * ms, 20, 2, true},
			{40 * ms, 20, 2, false}, // calm from here
			{100 * ms, 20, 2, false},
			{140 * ms, 20, 1, true},
			{160 * ms, 20, 1, false}}},
		{"a burst in the calm starts the calm again", []step{
			{0, 0, 1, false}, {20 * ms, 20, 2, true},
			{40 * ms, 20, 2, false},  // calm from here
			{60 * ms, 40, 2, false},  // 1,000/s
			{80 * ms, 40, 2, false},  // calm from here
			{160 * ms, 40, 2, false}, // 80 ms
			{180 * ms, 40, 1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b batcher
			for i, s := range tt.steps {
				queue, changed := b.update(t0.Add(s.at), s.messages)
				if queue != s.queue || changed != s.changed {
					t.Fatalf("step %d (%v, %d messages): queue %d changed %v, want queue %d changed %v", i, s.at, s.messages, queue, changed, s.queue, s.changed)
				}
			}
		})
	}
}

// TestPacerWakesWhileBatching drives Run's pacer on a fake clock: no
// wake-up before a flood; once the kernel batches, one every calmAfter
// (a flood's end leaves nothing to read, and only these wake-ups see
// the calm); after calmAfter of calm it asks for no batching, and the
// clock may run on for an hour without another wake-up.
func TestPacerWakesWhileBatching(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := clocktest.NewFake(time.Unix(1800000000, 0))
	woken := make(chan struct{}, 16)
	p := pacer{clock: c, w: waker{wake: func() { woken <- struct{}{} }}}
	defer p.stop()
	// A move of c returns once the waker took its tick; the wake-up
	// follows.
	wake := func(when string) {
		t.Helper()
		select {
		case <-woken:
		case <-ctx.Done():
			t.Fatalf("no wake-up %s", when)
		}
	}
	// Without a tick due, a move makes no wake-up.
	none := func(when string) {
		t.Helper()
		if n := len(woken); n != 0 {
			t.Fatalf("%d wake-ups %s", n, when)
		}
	}
	look := func(step string, messages uint64, wantQueue uint32, wantChanged bool) {
		t.Helper()
		if q, changed := p.look(messages); q != wantQueue || changed != wantChanged {
			t.Fatalf("%s: queue %d changed %v, want %d %v", step, q, changed, wantQueue, wantChanged)
		}
	}
	look("start", 0, 1, false)
	c.Advance(time.Hour)
	none("before a flood")
	look("an hour later", 0, 1, false)
	c.Advance(rateWindow)
	look("flood", 1000, 64, true)
	if err := c.WaitTickers(ctx, 1); err != nil {
		t.Fatal("no waker while batching: ", err)
	}
	c.Advance(calmAfter - time.Millisecond)
	none("before calmAfter")
	c.Advance(time.Millisecond)
	wake("at calmAfter")
	look("the calm begins", 1000, 64, false)
	c.Advance(calmAfter)
	wake("at 2*calmAfter")
	look("calm for calmAfter", 1000, 1, true)
	c.Advance(time.Hour)
	p.stop() // returns once a waker still on made its wake-up
	none("after the flood")
}
