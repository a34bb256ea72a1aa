package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/matcher"
)

// filter keeps the kernel's pre-filter of knock packets current, off
// the packet path: it arms each window's elements before its step
// begins (the housekeeping builds the next window ahead; a window the
// packet path had to build itself is armed at the next tick) and tracks
// the sources sequences start from, which the matcher reports on the
// packet path into a bounded list that never blocks it.
//
// A backend without a firewall.Filter has none: the daemon then logs
// the whole knock range (Plan.Filter is cleared).
type filter struct {
	f     firewall.Filter
	clock clock.Clock
	log   *slog.Logger
	// pending holds the sources the packet path reported since the
	// tracker last ran; wake tells the tracker that the list is no
	// longer empty (once per batch, not once per source: every wake-up
	// of a thread costs, under a flood, the kernel's pending work).
	pendMu  sync.Mutex
	pending []trackReq
	wake    chan struct{}

	mu    sync.Mutex       // held through each arm
	m     *matcher.Matcher // the matcher whose windows were armed
	upTo  uint64           // the latest step armed for m
	until *armedUntil      // how long the kernel holds each element armed; nil: nothing known

	elements atomic.Int64  // elements of the last arm
	sent     atomic.Int64  // of them, sent to the kernel
	armNanos atomic.Int64  // duration of the last arm
	tracked  atomic.Uint64 // sources handed to the kernel
	dropped  atomic.Uint64 // sources dropped: the queue was full
	failures atomic.Uint64 // failed Arm and Track calls

	logged   time.Time // when a failed Track was last logged (the tracker's own)
	unlogged int       // failed Track calls since
	quiet    time.Time // until when new sources are not sent (the tracker's own): after a flood or a full set
}

// trackReq is a source to track until a time.
type trackReq struct {
	src   netip.Addr
	until time.Time
}

// trackQueue is how many sources wait for the tracker at most; beyond
// it a source is dropped (and counted), never waited for.
const trackQueue = 4096

// trackBatch is how long the tracker gathers sources before it hands
// them to the kernel: a scheduling delay, not a time of the protocol.
// The kernel tracks a source on its first element itself, for the
// sequence timeout (Plan.Track), so the daemon's Track renews what the
// kernel began and can wait this long; under a flood of first knocks it
// bounds the tracker's wake-ups to 2/trackBatch a second.
const trackBatch = 100 * time.Millisecond

// newFilter returns the filter of fw, nil when fw has none.
func newFilter(fw firewall.Backend, clk clock.Clock, log *slog.Logger) *filter {
	f, ok := fw.(firewall.Filter)
	if !ok {
		return nil
	}
	return &filter{f: f, clock: clk, log: log, wake: make(chan struct{}, 1)}
}

// hook is the matcher's Track: nil without a filter.
func (f *filter) hook() func(netip.Addr, time.Time) {
	if f == nil {
		return nil
	}
	return func(src netip.Addr, until time.Time) {
		f.pendMu.Lock()
		defer f.pendMu.Unlock()
		if len(f.pending) >= trackQueue {
			f.dropped.Add(1)
			return
		}
		f.pending = append(f.pending, trackReq{src, until})
		if len(f.pending) == 1 {
			select {
			case f.wake <- struct{}{}:
			default:
			}
		}
	}
}

// arm arms w's elements, each until its last step leaves the window,
// unless a window of m at least as late was armed already. It sends
// only the elements the kernel does not hold until as late already (at
// a rollover, about the new step's first knocks: a third of the window
// with a skew of 1), and all of them for a matcher it has not armed (a
// start, a reload) or after rearm.
func (f *filter) arm(m *matcher.Matcher, w *matcher.Window) {
	if f == nil || w == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == m && w.Step() <= f.upTo {
		return
	}
	if f.m != m {
		f.m, f.upTo, f.until = m, 0, nil
	}
	if f.until == nil {
		f.until = new(armedUntil)
	}
	now := f.clock.Now()
	els := w.Elements()
	out := make([]firewall.Element, 0, len(els))
	armed := 0
	for _, e := range els {
		if !e.Until.After(now) {
			continue
		}
		armed++
		if e.Until.UnixNano() > *f.until.at(e.Knock) {
			out = append(out, firewall.Element{Knock: e.Knock, TTL: e.Until.Sub(now)})
		}
	}
	if err := f.f.Arm(out); err != nil {
		f.failures.Add(1)
		f.log.Error("arming the kernel filter", "step", w.Step(), "elements", len(out), "err", err)
		return
	}
	for _, e := range out {
		*f.until.at(e.Knock) = now.Add(e.TTL).UnixNano()
	}
	took := f.clock.Now().Sub(now)
	f.elements.Store(int64(armed))
	f.sent.Store(int64(len(out)))
	f.armNanos.Store(int64(took))
	f.log.Debug("kernel filter armed", "step", w.Step(), "elements", armed, "sent", len(out), "took", took.String())
	f.upTo = max(f.upTo, w.Step())
}

// run hands queued sources to the kernel in batches until ctx is done.
func (f *filter) run(ctx context.Context) {
	if f == nil {
		return
	}
	sent := newSentSet(trackRoom)
	var reqs []trackReq
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		// Sources come one packet at a time: gather what comes within
		// trackBatch into one call.
		if !f.gather(ctx) {
			return
		}
		f.pendMu.Lock()
		reqs, f.pending = f.pending, reqs[:0]
		f.pendMu.Unlock()
		f.flush(sent, reqs, f.clock.Now())
	}
}

// trackRoom is the most sources the daemon holds in the kernel at a
// time (sent and not expired), and remembers: a sixteenth of a source
// set. The kernel tracks every source on its first knock to an armed
// element itself (Plan.Track); the daemon's Track renews that, or
// tracks a source whose first knock came before its window was armed,
// a handful a step. Under a flood of first knocks the kernel has
// tracked them already (or its set is full and would refuse them), so
// the daemon's share of the set, and its memory, stay bounded: a source
// beyond the room is not sent and counts as dropped.
const trackRoom = firewall.MaxTracked / 16

// trackQuiet is the most sources one batch hands to the kernel: a
// larger batch is a flood of first knocks, whose sources the packet
// path tracked already (or could not: the set is full), and the daemon
// sends none of it. Measured on Linux 6.18: while the packet path
// fills a source set, transactions adding to it that the full set
// refuses (even one element, ten times a second) let it grow past its
// size, to five times it in seconds. Without the daemon's adds the set
// holds MaxTracked exactly.
const trackQuiet = 256

// floodHold is how long, after a batch larger than trackQuiet, the
// tracker sends renewals only: a flood's sources do not all come in
// large batches (a busy tracker, or a flood's first and last moments,
// split them), and the smaller ones would be adds into the set the
// packet path is filling.
const floodHold = 5 * time.Second

// fullHold is how long, after the kernel refused a Track because the
// source set is full, the tracker sends renewals only: a full set
// holds the kernel's own tracks of a flood for the sequence timeout,
// and each refused add into it while the packet path fills it lets it
// grow past its size.
const fullHold = 30 * time.Second

// flush hands reqs to the kernel at now in one Track, unless they are a
// flood, new sources while the daemon has room; when a full set refuses
// it, the renewals of sources sent before (which never fill a set) go
// in alone. A source already tracked at least as long is not sent
// again.
func (f *filter) flush(sent *sentSet, reqs []trackReq, now time.Time) {
	sent.expire(now)
	if len(reqs) > trackQuiet {
		f.dropped.Add(uint64(len(reqs)))
		f.quiet = now.Add(floodHold)
		return
	}
	quiet := now.Before(f.quiet)
	var renew, fresh []firewall.Source
	for _, r := range reqs {
		src := r.src.Unmap()
		re, ok := sent.put(src, r.until, now)
		switch {
		case ok && re:
			renew = append(renew, firewall.Source{Addr: src, TTL: r.until.Sub(now)})
		case ok && quiet:
			sent.forget(src)
			f.dropped.Add(1) // a flood or a full set: renewals only
		case ok:
			fresh = append(fresh, firewall.Source{Addr: src, TTL: r.until.Sub(now)})
		case !re:
			f.dropped.Add(1) // no room
		}
	}
	batch := append(renew, fresh...)
	if len(batch) == 0 {
		return
	}
	err := f.f.Track(batch)
	if errors.Is(err, firewall.ErrFull) {
		f.quiet = now.Add(fullHold)
	}
	if errors.Is(err, firewall.ErrFull) && len(renew) > 0 && len(fresh) > 0 {
		// A full set refuses the whole transaction for one new source:
		// the renewals go in alone (they add nothing). The new sources
		// are not retried one by one: each refused transaction into a
		// set the packet path is filling lets it grow past its size
		// (Linux 6.18, ADVERSARIAL.md).
		if err2 := f.f.Track(renew); err2 == nil {
			f.tracked.Add(uint64(len(renew)))
			batch = fresh
		}
	}
	if err != nil {
		for _, s := range batch {
			sent.forget(s.Addr)
		}
		f.failures.Add(1)
		f.trackFailed(now, len(batch), err)
		return
	}
	f.tracked.Add(uint64(len(batch)))
}

// gather waits trackBatch on the filter's clock, on a ticker of its own
// (a fake clock's Sleep would move the clock itself): false when ctx is
// done first.
func (f *filter) gather(ctx context.Context) bool {
	t := f.clock.NewTicker(trackBatch)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// armedUntil is when each element armed in the kernel expires (Unix
// nanoseconds; 0: never armed), by protocol and port: 1.5 MiB, read and
// written without hashing, for the 80,000 and more elements of 100,000
// users.
type armedUntil [derive.NumProtos][1 << 16]int64

// at points to the expiry of k, in its protocol's row of the table.
func (a *armedUntil) at(k derive.Knock) *int64 {
	return &a[max(k.Proto.Index(), 0)][k.Port]
}

// trackLogEvery is how often a failing Track is logged at most: under a
// flood of new sources the kernel's source set fills (MaxTracked), every
// batch fails until sources expire, and the log would repeat the same
// line ten times a second. otpknock_filter_errors_total counts each.
const trackLogEvery = time.Minute

// trackFailed logs a failed Track, once per trackLogEvery with the
// count of failures not logged since.
func (f *filter) trackFailed(now time.Time, sources int, err error) {
	f.unlogged++
	if !f.logged.IsZero() && now.Sub(f.logged) < trackLogEvery {
		return
	}
	f.log.Error("tracking sources in the kernel filter", "sources", sources, "failures", f.unlogged, "err", err)
	f.logged, f.unlogged = now, 0
}

// filterStats are the filter's figures for the metrics.
type filterStats struct {
	Elements                   int64
	ArmTime                    time.Duration
	Tracked, Dropped, Failures uint64
}

func (f *filter) stats() filterStats {
	if f == nil {
		return filterStats{}
	}
	return filterStats{Elements: f.elements.Load(), ArmTime: time.Duration(f.armNanos.Load()),
		Tracked: f.tracked.Load(), Dropped: f.dropped.Load(), Failures: f.failures.Load()}
}

// rearm arms m's current window again, whatever was armed before: a
// repair of the firewall recreated the filter's sets empty.
func (f *filter) rearm(m *matcher.Matcher) {
	if f == nil {
		return
	}
	f.mu.Lock()
	f.m, f.upTo, f.until = nil, 0, nil
	f.mu.Unlock()
	f.arm(m, m.Window())
}

// armNow brings m to now's step and arms its window: at start and after
// a reload, before the packet path uses m.
func (f *filter) armNow(m *matcher.Matcher) error {
	if f == nil {
		return nil
	}
	if err := m.Advance(f.clock.Now()); err != nil {
		return err
	}
	f.arm(m, m.Window())
	return nil
}
