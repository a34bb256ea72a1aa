package addrwatch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
)

// fakeNet is a host's network as a Watcher sees it: the addresses Look
// returns (none: no route) and the events Subscribe delivers, or the
// error it fails with (a sandbox without netlink). Its state renders as
// text.
type fakeNet struct {
	mu     sync.Mutex
	addrs  Addrs
	looks  int
	events chan struct{}
	subErr error // Subscribe's error; nil: it gives events
	subbed int   // Subscribe's calls
}

func newFakeNet(route string) *fakeNet {
	n := &fakeNet{events: make(chan struct{}, 8)}
	n.set(route)
	return n
}

// set changes the addresses without an event ("" is no route).
func (n *fakeNet) set(route string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addrs = Addrs{}
	if route != "" {
		a := netip.MustParseAddr(route)
		n.addrs = Addrs{Route: a, Claim: []netip.Addr{a}}
	}
}

// fire delivers one address or route event.
func (n *fakeNet) fire() { n.events <- struct{}{} }

func (n *fakeNet) Subscribe(context.Context) (<-chan struct{}, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subbed++
	if n.subErr != nil {
		return nil, n.subErr
	}
	return n.events, nil
}

func (n *fakeNet) look(context.Context) (Addrs, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.looks++
	if !n.addrs.Route.IsValid() {
		return Addrs{}, errors.New("no route to 198.18.0.1")
	}
	return n.addrs, nil
}

func (n *fakeNet) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("%v; %d looks, %d subscribe", n.addrs, n.looks, n.subbed)
}

// TestWatcher drives a Watcher through address changes with and without
// events and checks the changes it reports and how often it looked.
func TestWatcher(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events bool
		subErr error                                            // Subscribe fails with it
		steps  func(n *fakeNet, c *clocktest.Fake, next func()) // next awaits a report
		want   []string                                         // "first", then "old -> new" per change
		state  string                                           // the fake's state at the end
	}{
		{name: "event with a new address", events: true,
			steps: func(n *fakeNet, c *clocktest.Fake, next func()) { n.set("198.18.0.3"); n.fire() },
			want:  []string{"first route 198.18.0.2, claim 198.18.0.2", "route 198.18.0.2, claim 198.18.0.2 -> route 198.18.0.3, claim 198.18.0.3"},
			state: "route 198.18.0.3, claim 198.18.0.3; 2 looks, 1 subscribe"},
		{name: "event without a change reports nothing", events: true,
			steps: func(n *fakeNet, c *clocktest.Fake, next func()) { n.fire(); n.fire(); n.set("198.18.0.3"); n.fire() },
			want:  []string{"first route 198.18.0.2, claim 198.18.0.2", "route 198.18.0.2, claim 198.18.0.2 -> route 198.18.0.3, claim 198.18.0.3"},
		},
		{name: "network lost and back", events: true,
			steps: func(n *fakeNet, c *clocktest.Fake, next func()) {
				n.set("")
				n.fire()
				next()
				n.set("198.18.0.2")
				n.fire()
			},
			want: []string{"first route 198.18.0.2, claim 198.18.0.2",
				"route 198.18.0.2, claim 198.18.0.2 -> no route (no route to 198.18.0.1)",
				"no route -> route 198.18.0.2, claim 198.18.0.2"},
			state: "route 198.18.0.2, claim 198.18.0.2; 3 looks, 1 subscribe"},
		{name: "no events: the poll finds the change", events: false,
			steps: func(n *fakeNet, c *clocktest.Fake, next func()) {
				n.set("198.18.0.3")
				c.Advance(time.Second)
				c.Advance(time.Second)
			},
			want:  []string{"first route 198.18.0.2, claim 198.18.0.2", "route 198.18.0.2, claim 198.18.0.2 -> route 198.18.0.3, claim 198.18.0.3"},
			state: "route 198.18.0.3, claim 198.18.0.3; 2 looks, 0 subscribe"},
		{name: "events fail: the fallback poll finds the change, said once", events: true,
			subErr: errors.New("netlink socket: operation not permitted"),
			steps: func(n *fakeNet, c *clocktest.Fake, next func()) {
				n.set("198.18.0.3")
				c.Advance(time.Second)
				c.Advance(time.Second)
				next()
				n.set("198.18.0.4")
				c.Advance(2 * time.Second)
			},
			want: []string{"fell back: watching addresses: netlink socket: operation not permitted",
				"first route 198.18.0.2, claim 198.18.0.2",
				"route 198.18.0.2, claim 198.18.0.2 -> route 198.18.0.3, claim 198.18.0.3",
				"route 198.18.0.3, claim 198.18.0.3 -> route 198.18.0.4, claim 198.18.0.4"},
			state: "route 198.18.0.4, claim 198.18.0.4; 3 looks, 1 subscribe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet("198.18.0.2")
			n.subErr = tc.subErr
			c := clocktest.NewFake(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
			var got []string
			w := &Watcher{Clock: c, Settle: time.Millisecond, Look: n.look, Poll: time.Hour,
				Fallback: 2 * time.Second, FellBack: func(err error) { got = append(got, fmt.Sprintf("fell back: %v", err)) }}
			if tc.events {
				w.Events = n
			} else {
				w.Poll = 2 * time.Second
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reported := make(chan struct{}, 8)
			done := make(chan error, 1)
			go func() {
				done <- w.Run(ctx, func(a Addrs, err error) error {
					got = append(got, fmt.Sprintf("first %v", a))
					reported <- struct{}{}
					return err
				}, func(old, new Addrs, err error) error {
					line := fmt.Sprintf("%v -> %v", old, new)
					if err != nil {
						line += fmt.Sprintf(" (%v)", err)
					}
					got = append(got, line)
					reported <- struct{}{}
					return nil
				})
			}()
			await(t, reported)
			if err := c.WaitTickers(ctx, 1); err != nil {
				t.Fatal(err)
			}
			awaited := 1
			if tc.subErr != nil {
				awaited++ // the fallback's line
			}
			tc.steps(n, c, func() { await(t, reported); awaited++ })
			for ; awaited < len(tc.want); awaited++ {
				await(t, reported)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
			if tc.state != "" && n.String() != tc.state {
				t.Errorf("fake net %q, want %q", n.String(), tc.state)
			}
		})
	}
}

// await waits a bounded time for one report.
func await(t *testing.T, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatal("no report within 5s")
	}
}

func TestAddrsString(t *testing.T) {
	a := netip.MustParseAddr("198.18.0.2")
	b := netip.MustParseAddr("2001:2::2")
	for _, tc := range []struct {
		in   Addrs
		want string
	}{
		{Addrs{}, "no route"},
		{Addrs{Route: a}, "route 198.18.0.2"},
		{Addrs{Route: a, Claim: []netip.Addr{a, b}}, "route 198.18.0.2, claim 198.18.0.2 2001:2::2"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWatcherNoFallback: without Fallback, events that cannot subscribe
// end Run with the cause, before any look, and nothing is told.
func TestWatcherNoFallback(t *testing.T) {
	n := newFakeNet("198.18.0.2")
	n.subErr = errors.New("netlink socket: operation not permitted")
	told := 0
	w := &Watcher{Clock: clocktest.NewFake(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), Events: n, Poll: time.Hour,
		Look: n.look, FellBack: func(error) { told++ }}
	err := w.Run(context.Background(), func(Addrs, error) error { return nil }, func(_, _ Addrs, _ error) error { return nil })
	if want := "watching addresses: netlink socket: operation not permitted"; err == nil || err.Error() != want || !errors.Is(err, n.subErr) {
		t.Errorf("Run: %v, want %q wrapping Subscribe's error", err, want)
	}
	if told != 0 || n.String() != "route 198.18.0.2, claim 198.18.0.2; 0 looks, 1 subscribe" {
		t.Errorf("told %d times; fake net %q", told, n.String())
	}
}
