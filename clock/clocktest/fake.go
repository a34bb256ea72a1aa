package clocktest

import (
	"github.com/otpknock/otpknock/clock"

	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Fake is one.
var _ clock.Clock = (*Fake)(nil)

// Fake is a settable clock.Clock for tests. It is safe for concurrent use.
//
// Its tickers fire only when the clock is moved (Advance, Set, Sleep).
// A move hands each ticker with a tick due one tick, carrying the time of
// the last tick due, as a real ticker drops the ticks a slow receiver
// misses; the next tick is then due one interval later. The move blocks
// until every such tick was received (or its ticker stopped), so a test
// that moves the clock knows the tickers' goroutines took their ticks.
type Fake struct {
	mu      sync.Mutex
	t       time.Time
	tickers []*fakeTicker
	changed chan struct{} // closed and replaced when tickers are added
}

// NewFake returns a Fake showing t.
func NewFake(t time.Time) *Fake { return &Fake{t: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Set moves the clock to t, firing the tickers due up to t when t is
// later.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	due := f.due()
	f.mu.Unlock()
	deliver(due)
}

// Sleep advances the fake clock by d at once.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		f.Advance(d)
	}
	return nil
}

// Advance moves the clock forward by d and fires the ticks that fall due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	due := f.due()
	f.mu.Unlock()
	deliver(due)
}

// NewTicker returns a ticker whose first tick is due d after now.
func (f *Fake) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic(fmt.Sprintf("clock: non-positive ticker interval %v", d))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), stop: make(chan struct{}), every: d, next: f.t.Add(d)}
	f.tickers = append(f.tickers, t)
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
	return t
}

// WaitTickers blocks until at least n tickers of the clock are running
// (created and not stopped) or ctx is done: a test calls it before
// moving the clock, so that the ticker of a goroutine it started exists.
func (f *Fake) WaitTickers(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		f.prune()
		if len(f.tickers) >= n {
			f.mu.Unlock()
			return nil
		}
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tick is the tick of one ticker that a move delivers.
type tick struct {
	t  *fakeTicker
	at time.Time
}

// due returns, in time order, one tick per ticker with ticks due up to
// f.t, and moves each ticker's next tick past f.t. f.mu is held.
func (f *Fake) due() []tick {
	f.prune()
	var out []tick
	for _, t := range f.tickers {
		if t.next.After(f.t) {
			continue
		}
		n := f.t.Sub(t.next) / t.every
		at := t.next.Add(n * t.every)
		out = append(out, tick{t, at})
		t.next = at.Add(t.every)
	}
	slices.SortStableFunc(out, func(a, b tick) int { return a.at.Compare(b.at) })
	return out
}

// prune forgets the stopped tickers. f.mu is held.
func (f *Fake) prune() {
	f.tickers = slices.DeleteFunc(f.tickers, (*fakeTicker).stopped)
}

// deliver hands each tick to its ticker's receiver, skipping tickers
// stopped meanwhile.
func deliver(ticks []tick) {
	for _, tk := range ticks {
		select {
		case tk.t.c <- tk.at:
		case <-tk.t.stop:
		}
	}
}

type fakeTicker struct {
	c     chan time.Time
	stop  chan struct{}
	once  sync.Once
	every time.Duration
	next  time.Time // guarded by the clock's mu
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() { t.once.Do(func() { close(t.stop) }) }

func (t *fakeTicker) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}
