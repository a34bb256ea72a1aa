package listenertest

import (
	"context"
	"fmt"
	"sync"

	"github.com/otpknock/otpknock/listener"
)

// Fake is a listener.Source.
var _ listener.Source = (*Fake)(nil)

// Fake is a Source fed by the test. Inject queues packets and Fail an
// error; Run delivers them in order and counts a packet once fn has
// returned, so that Drain, which waits until everything queued was
// handled, tells a test the daemon is done with its packets. String
// renders the counters.
type Fake struct {
	mu      sync.Mutex
	queue   []fakeItem
	handled uint64
	wake    chan struct{} // cap 1: the queue grew
	idle    chan struct{} // closed when the queue is handled; nil when none waits
}

// fakeItem is a queued packet, or the error that ends Run.
type fakeItem struct {
	p   listener.Packet
	err error
}

// Inject queues a packet for delivery.
func (f *Fake) Inject(p listener.Packet) { f.push(fakeItem{p: p}) }

// Fail queues err: Run returns it once the packets queued before it
// were delivered.
func (f *Fake) Fail(err error) { f.push(fakeItem{err: err}) }

func (f *Fake) push(it fakeItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.queue = append(f.queue, it)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// init makes the wake channel. f.mu is held.
func (f *Fake) init() {
	if f.wake == nil {
		f.wake = make(chan struct{}, 1)
	}
}

// Run delivers the queued packets to fn until ctx is done (it returns
// nil) or it reaches a queued error (it returns that).
func (f *Fake) Run(ctx context.Context, fn func(listener.Packet)) error {
	f.mu.Lock()
	f.init()
	wake := f.wake
	f.mu.Unlock()
	for {
		it, ok := f.next()
		switch {
		case !ok:
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			}
		case it.err != nil:
			f.done(false)
			return it.err
		default:
			fn(it.p)
			f.done(true)
		}
	}
}

// next returns the head of the queue, leaving it queued until done.
func (f *Fake) next() (fakeItem, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		return fakeItem{}, false
	}
	return f.queue[0], true
}

// done removes the head of the queue, counting it when it was a packet,
// and wakes Drain when the queue is empty.
func (f *Fake) done(packet bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = f.queue[1:]
	if packet {
		f.handled++
	}
	if len(f.queue) == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// Drain waits until Run handled everything queued, or ctx is done.
func (f *Fake) Drain(ctx context.Context) error {
	f.mu.Lock()
	if len(f.queue) == 0 {
		f.mu.Unlock()
		return nil
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("draining the fake source: %d queued: %w", f.queued(), ctx.Err())
	}
}

func (f *Fake) queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queue)
}

// Stats counts the packets handled.
func (f *Fake) Stats() listener.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listener.Stats{Messages: f.handled, Knocks: f.handled}
}

// String renders the counters: "handled=N queued=M".
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("handled=%d queued=%d", f.handled, len(f.queue))
}
