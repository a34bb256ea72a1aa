package listener

import (
	"math/bits"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
)

// Kernel batching of NFLOG messages (NFLOG.Run). Past busyRate
// messages a second, measured over rateWindow, the kernel holds
// messages until it has as many as arrive in about batchDelay (a queue
// threshold, a power of two between 2 and maxQueue) or its 10 ms flush
// timer runs out, and sends them together: a flood that reaches the
// listener wakes it about 1/batchDelay times a second at most, not once
// per packet, and a knock among the flood waits about batchDelay. Once
// the rate stays under half of busyRate for calmAfter, each message goes
// out at once again. A knock, a sequence, or a few users knocking at
// once stay far below busyRate and are never delayed.
const (
	busyRate   = 500
	batchDelay = 2 * time.Millisecond
	maxQueue   = 1024
	rateWindow = 20 * time.Millisecond
	calmAfter  = 100 * time.Millisecond
)

// batcher decides from the count of messages read when and how much the
// kernel should batch them.
type batcher struct {
	since time.Time // the start of the window
	count uint64    // the messages read before it
	queue uint32    // the queue threshold asked for: 1 sends each message at once
	calm  time.Time // since when the rate is under busyRate/2; zero: it is not
}

// update takes the count of messages read so far at now and returns the
// queue threshold to ask the kernel for, and whether it changed.
func (b *batcher) update(now time.Time, messages uint64) (queue uint32, changed bool) {
	if b.queue == 0 {
		b.queue = 1
	}
	d := now.Sub(b.since)
	if d < rateWindow {
		return b.queue, false
	}
	rate := float64(messages-b.count) / d.Seconds()
	b.since, b.count = now, messages
	want := b.queue
	switch {
	case rate > busyRate:
		want, b.calm = queueFor(rate), time.Time{}
	case b.queue == 1:
	case rate >= busyRate/2:
		b.calm = time.Time{}
	case b.calm.IsZero():
		b.calm = now
	case now.Sub(b.calm) >= calmAfter:
		want = 1
	}
	// Between two thresholds of the flood's rate, change only by a
	// factor of four or more, so that a rate near a power of two does
	// not reconfigure the kernel at every window.
	if want == b.queue || (want > 1 && b.queue > 1 && want < 4*b.queue && b.queue < 4*want) {
		return b.queue, false
	}
	b.queue = want
	return want, true
}

// queueFor is the queue threshold for a rate of messages a second: what
// arrives in batchDelay, rounded down to a power of two, from 2 to
// maxQueue.
func queueFor(rate float64) uint32 {
	n := uint32(min(rate*batchDelay.Seconds(), maxQueue))
	if n < 2 {
		return 2
	}
	return 1 << (bits.Len32(n) - 1)
}

// pacer is Run's view of the rate: at each look it reads the time from
// its clock and the count of messages read, and while the kernel
// batches, its waker wakes Run every calmAfter to look again.
type pacer struct {
	clock clock.Clock
	b     batcher
	w     waker
}

// look returns the queue threshold to ask the kernel for now, and
// whether it changed; the waker ticks while the threshold is over 1.
func (p *pacer) look(messages uint64) (queue uint32, changed bool) {
	queue, changed = p.b.update(p.clock.Now(), messages)
	if changed {
		p.w.set(p.clock, queue > 1)
	}
	return queue, changed
}

// stop ends the waker's ticking.
func (p *pacer) stop() { p.w.set(p.clock, false) }

// waker calls wake every calmAfter on a clock while it is on: while the
// kernel batches, Run must notice the end of a flood that leaves nothing
// more to read. It is off otherwise, so an idle server is never woken.
type waker struct {
	wake func()
	end  func() // stops the ticking and waits for it; nil while off
}

// set turns the ticking on or off; once set returns off, wake is not
// called any more.
func (w *waker) set(c clock.Clock, on bool) {
	switch {
	case on == (w.end != nil):
	case !on:
		w.end()
		w.end = nil
	default:
		t := c.NewTicker(calmAfter)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-t.C():
					w.wake()
				case <-done:
					return
				}
			}
		})
		w.end = func() {
			t.Stop()
			close(done)
			wg.Wait()
		}
	}
}
