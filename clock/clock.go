package clock

import (
	"context"
	"time"
)

// Clock tells the current time, waits and ticks.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, and returns ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
	// NewTicker returns a ticker that delivers the time every d (d > 0).
	// The caller stops it.
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on C until stopped.
type Ticker interface {
	// C is the channel of ticks.
	C() <-chan time.Time
	// Stop ends the ticks; C is not closed.
	Stop()
}

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// Sleep waits for d on a timer.
func (System) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewTicker returns a time.Ticker.
func (System) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (s systemTicker) C() <-chan time.Time { return s.t.C }
func (s systemTicker) Stop()               { s.t.Stop() }

// Offset is a clock shifted from another by a fixed duration, for a
// client whose clock is known to be off (--time-offset).
type Offset struct {
	Clock Clock
	By    time.Duration
}

// Now returns the inner clock's time plus the offset.
func (o Offset) Now() time.Time { return o.Clock.Now().Add(o.By) }

// Sleep waits on the inner clock.
func (o Offset) Sleep(ctx context.Context, d time.Duration) error { return o.Clock.Sleep(ctx, d) }

// NewTicker ticks on the inner clock; the ticks carry the inner clock's
// time.
func (o Offset) NewTicker(d time.Duration) Ticker { return o.Clock.NewTicker(d) }
