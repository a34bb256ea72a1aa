package addrwatch

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/otpknock/otpknock/clock"
)

// Events is the kernel boundary: it reports that the host's addresses
// or routes may have changed.
type Events interface {
	// Subscribe returns a channel that receives a value after each
	// address or route change, until ctx ends.
	Subscribe(ctx context.Context) (<-chan struct{}, error)
}

// Addrs are a client's addresses toward one server.
type Addrs struct {
	Route netip.Addr   // the route source toward the server; zero: no route
	Claim []netip.Addr // the addresses a knock claims or derives with
}

// Equal reports whether a and b are the same addresses.
func (a Addrs) Equal(b Addrs) bool {
	return a.Route == b.Route && slices.Equal(a.Claim, b.Claim)
}

// String renders a for a one-line report: "route 198.18.0.2, claim
// 203.0.113.9", or "no route".
func (a Addrs) String() string {
	if !a.Route.IsValid() {
		return "no route"
	}
	s := "route " + a.Route.String()
	if len(a.Claim) > 0 {
		var c []string
		for _, ad := range a.Claim {
			c = append(c, ad.String())
		}
		s += ", claim " + strings.Join(c, " ")
	}
	return s
}

// DefaultSettle is how long a Watcher lets a burst of events end (an
// address removed, then one added, then their routes) before it looks.
const DefaultSettle = 100 * time.Millisecond

// Watcher calls Changed when Look gives other addresses than it last
// did.
type Watcher struct {
	Clock  clock.Clock
	Events Events        // nil: Poll only
	Poll   time.Duration // also look this often; 0: only on events
	Settle time.Duration // after an event; 0: DefaultSettle
	// Fallback is how often to look when Events cannot subscribe (no
	// netlink in a sandbox, EPERM): Run then polls at least this often
	// instead of returning the error, and tells FellBack. 0: Run
	// returns the error.
	Fallback time.Duration
	// FellBack, when set, is told once why Run polls every Fallback
	// instead of following Events.
	FellBack func(err error)
	// Look returns the current addresses; an error is reported to
	// Changed's caller as zero Addrs (no route), so a client that lost
	// its network and got it back is told.
	Look func(ctx context.Context) (Addrs, error)
}

// Run looks once, then after each event and poll, and calls changed
// with the last and the new addresses whenever they differ, until ctx
// ends (it then returns nil) or changed returns an error. It returns
// the first look's addresses to first before waiting.
func (w *Watcher) Run(ctx context.Context, first func(Addrs, error) error, changed func(old, new Addrs, err error) error) error {
	events, poll, err := w.subscribe(ctx)
	if err != nil {
		return err
	}
	var tick <-chan time.Time
	if poll > 0 {
		t := w.Clock.NewTicker(poll)
		defer t.Stop()
		tick = t.C()
	}
	last, err := w.Look(ctx)
	if err := first(last, err); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events:
			if err := w.Clock.Sleep(ctx, w.settle()); err != nil {
				return nil
			}
			drain(events)
		case <-tick:
		}
		now, err := w.Look(ctx)
		if err != nil {
			now = Addrs{}
		}
		if now.Equal(last) {
			continue
		}
		old := last
		last = now
		if err := changed(old, now, err); err != nil {
			return err
		}
	}
}

// subscribe joins Events, if any, and returns them with how often Run
// looks besides: Poll, or Fallback when it is shorter (or Poll is 0)
// and Events failed, which FellBack is told.
func (w *Watcher) subscribe(ctx context.Context) (<-chan struct{}, time.Duration, error) {
	if w.Events == nil {
		return nil, w.Poll, nil
	}
	events, err := w.Events.Subscribe(ctx)
	if err == nil {
		return events, w.Poll, nil
	}
	err = fmt.Errorf("watching addresses: %w", err)
	if w.Fallback <= 0 {
		return nil, 0, err
	}
	if w.FellBack != nil {
		w.FellBack(err)
	}
	if w.Poll > 0 && w.Poll < w.Fallback {
		return nil, w.Poll, nil
	}
	return nil, w.Fallback, nil
}

func (w *Watcher) settle() time.Duration {
	if w.Settle > 0 {
		return w.Settle
	}
	return DefaultSettle
}

// drain takes the events that arrived while settling: one look covers
// them.
func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
