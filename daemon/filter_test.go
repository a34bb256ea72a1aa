package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener/listenertest"
)

// firstKnocks are the distinct first knocks of secret's sequences of
// steps lo..hi, sorted as the filter lists them.
func firstKnocks(t *testing.T, secret []byte, p derive.Params, lo, hi uint64) []derive.Knock {
	t.Helper()
	var out []derive.Knock
	for s := lo; s <= hi; s++ {
		seq, err := derive.Sequence(secret, "gw1", p, s, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, seq[0])
	}
	slices.SortFunc(out, func(a, b derive.Knock) int {
		return int(a.Proto)<<16 + int(a.Port) - (int(b.Proto)<<16 + int(b.Port))
	})
	return slices.Compact(out)
}

// eventually waits (in real time) until cond holds, for what the
// tracker goroutine does.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := testContext(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// newFiltered returns a daemon on a FakeFilter, not yet running.
func newFiltered(t *testing.T, cfg *config.Config, c *clocktest.Fake) (*running, *firewalltest.FakeFilter) {
	t.Helper()
	ff := &firewalltest.FakeFilter{Fake: &firewalltest.Fake{Clock: c}}
	r := &running{src: &listenertest.Fake{}, fw: ff.Fake, clock: c, log: &netnstest.Buffer{}, done: make(chan error, 1)}
	d, err := New(cfg, Deps{Source: r.src, Firewall: ff, Clock: c, Log: slog.New(slog.NewTextHandler(r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	return r, ff
}

// TestFilter runs the daemon on a backend with a filter: the first
// knocks of the window are armed at start, the next window's before its
// step begins (the rollover only adds), a sequence's source is tracked
// at its first knock for the sequence timeout and a stray tracks
// nothing, and elements and sources expire on the clock.
func TestFilter(t *testing.T) {
	cfg, secret := setupConfig(t)
	const T = 60000000
	c := clocktest.NewFake(derive.StepStart(T, 30*time.Second).Add(3 * time.Second))
	r, ff := newFiltered(t, cfg, c)
	if diff := cmp.Diff(firstKnocks(t, secret, cfg.Params, T-1, T+1), ff.Armed()); diff != "" {
		t.Errorf("armed at start (-want +got):\n%s", diff)
	}
	st, err := ff.Status(r.d.plan)
	if err != nil || !strings.Contains(strings.Join(st.Rules4, "\n"), "--match-set otpknock-tcp dst") {
		t.Errorf("the installed rules do not filter (%v):\n%s", err, strings.Join(st.Rules4, "\n"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	if err := c.WaitTickers(testContext(t), 1); err != nil {
		t.Fatal(err)
	}

	client, other := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, T, netip.Addr{})
	stray := derive.Knock{Proto: seq[0].Proto, Port: seq[0].Port ^ 1}
	r.knock(t, other, []derive.Knock{stray})
	r.knock(t, client, seq[:1])
	// The tracker gathers sources for trackBatch on the clock, on a
	// ticker beside the housekeeping's and the healing's.
	if err := c.WaitTickers(testContext(t), 3); err != nil {
		t.Fatal(err)
	}
	if s := ff.String(); !strings.Contains(s, "filter arms=1 tracks=0 ") {
		t.Errorf("tracked before trackBatch:\n%s", s)
	}
	c.Advance(trackBatch)
	eventually(t, "the client tracked", func() bool { return strings.Contains(ff.String(), "track 198.18.0.2 10s") })
	if s := ff.String(); strings.Contains(s, "198.18.0.3") || !strings.Contains(s, "filter arms=1 tracks=1 ") {
		t.Errorf("a stray tracked its source, or more than one Track:\n%s", s)
	}
	r.knock(t, client, seq[1:])
	if !strings.Contains(ff.String(), "grant 198.18.0.2 tcp/22 30s") {
		t.Errorf("no grant through the filter:\n%s", ff)
	}

	// 4 s before step T+1 the housekeeping builds its window and arms
	// the first knock of step T+2.
	c.Set(derive.StepStart(T+1, 30*time.Second).Add(-4 * time.Second))
	r.housekeep()
	eventually(t, "the next window armed", func() bool { return strings.Contains(ff.String(), "filter arms=2 ") })
	if diff := cmp.Diff(firstKnocks(t, secret, cfg.Params, T-1, T+2), ff.Armed()); diff != "" {
		t.Errorf("armed before step T+1 (-want +got):\n%s", diff)
	}
	// Only step T+2's first knock was sent again: the kernel holds the
	// others as long already.
	if want := fmt.Sprintf(" sent=%d", len(firstKnocks(t, secret, cfg.Params, T-1, T+1))+1); !strings.Contains(ff.String(), want) {
		t.Errorf("elements sent to the filter, want%s:\n%s", want, ff)
	}
	if strings.Contains(ff.String(), "track ") {
		t.Errorf("the client still tracked after the sequence timeout:\n%s", ff)
	}
	// Once step T+1 begins, step T-1's first knock is no longer armed
	// (unless a later step shares it), with no call to the filter.
	c.Set(derive.StepStart(T+1, 30*time.Second).Add(time.Second))
	r.housekeep()
	if diff := cmp.Diff(firstKnocks(t, secret, cfg.Params, T, T+2), ff.Armed()); diff != "" {
		t.Errorf("armed in step T+1 (-want +got):\n%s", diff)
	}
	r.stop(t)
	if !strings.Contains(ff.String(), "filter arms=2 tracks=1 ") {
		t.Errorf("calls of the filter:\n%s", ff)
	}
	metrics := r.scrape(t, "/metrics")
	for _, want := range []string{"otpknock_filter_sources_tracked_total 1", "otpknock_filter_errors_total 0",
		"otpknock_filter_sources_dropped_total 0", "otpknock_filter_elements "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestTracker runs the filter's tracker on a fake clock: the sources
// reported within trackBatch go to the kernel in one Track once the
// clock has moved trackBatch, each for the time its sequence has left;
// a source tracked as long already is not sent again, a later one is;
// the kernel's entries expire on the clock.
func TestTracker(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	c := clocktest.NewFake(time.Unix(1800000000, 0))
	ff := &firewalltest.FakeFilter{Fake: &firewalltest.Fake{Clock: c}}
	f := newFilter(ff, c, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		f.run(ctx)
		close(done)
	}()
	a, b := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("::ffff:198.18.0.3")
	track := f.hook()
	// batch reports the sources, moves the clock trackBatch once the
	// tracker waits, and returns once it made tracks calls of Track in
	// all, handing over tracked sources (the count moves by a batch at
	// once: a source sent wrongly would skip it).
	batch := func(step string, tracks int, tracked uint64, reqs ...trackReq) {
		t.Helper()
		before := ff.String()
		for _, r := range reqs {
			track(r.src, r.until)
		}
		if err := c.WaitTickers(ctx, 1); err != nil {
			t.Fatalf("%s: the tracker does not wait: %v", step, err)
		}
		c.Advance(trackBatch - time.Millisecond)
		if s := ff.String(); s != before {
			t.Errorf("%s: tracked before trackBatch:\n%s", step, s)
		}
		c.Advance(time.Millisecond)
		eventually(t, step, func() bool {
			return f.stats().Tracked == tracked && strings.Contains(ff.String(), fmt.Sprintf("tracks=%d ", tracks))
		})
	}
	t0 := c.Now()
	batch("two sources in one call", 1, 2, trackReq{a, t0.Add(10 * time.Second)}, trackReq{b, t0.Add(5 * time.Second)})
	batch("a again as long, b longer: only b", 2, 3, trackReq{a, t0.Add(10 * time.Second)}, trackReq{b, t0.Add(8 * time.Second)})
	want := `track 198.18.0.2 10s
track 198.18.0.3 8s`
	if s := ff.String(); !strings.HasSuffix(s, "\n"+want) {
		t.Errorf("tracked sources, want\n%s\ngot:\n%s", want, s)
	}
	c.Advance(8 * time.Second)
	if s := ff.String(); !strings.HasSuffix(s, "\ntrack 198.18.0.2 2s") {
		t.Errorf("after 8 s, want only 198.18.0.2 left with 2 s:\n%s", s)
	}
	c.Advance(2 * time.Second)
	if s := ff.String(); strings.Contains(s, "track ") {
		t.Errorf("sources tracked past their time:\n%s", s)
	}
	if got := f.stats(); got.Failures != 0 || got.Dropped != 0 {
		t.Errorf("stats %+v, want no failure, none dropped", got)
	}
	cancel()
	<-done
}

// TestNoFilter: a backend without a filter gets a plan that logs the
// whole range, and the matcher tracks nothing.
func TestNoFilter(t *testing.T) {
	cfg, _ := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := newDaemon(t, cfg, c, fw)
	st, err := fw.Status(r.d.plan)
	if err != nil || r.d.plan.Filter || r.d.filter != nil || strings.Contains(strings.Join(st.Rules4, "\n"), "otpknock-tcp") {
		t.Errorf("without a filter: plan.Filter=%v filter=%v err=%v rules:\n%s", r.d.plan.Filter, r.d.filter, err, strings.Join(st.Rules4, "\n"))
	}
	if err := r.d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTrackFailedLogsOncePerMinute: a Track that keeps failing (the
// kernel's source set full under a flood) is logged once per
// trackLogEvery, with the failures since the last line.
func TestTrackFailedLogsOncePerMinute(t *testing.T) {
	var buf netnstest.Buffer
	f := &filter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))}
	t0 := time.Unix(1800000000, 0)
	full := errors.New("set full")
	for _, at := range []time.Duration{0, 100 * time.Millisecond, 30 * time.Second, time.Minute, time.Minute + time.Second} {
		f.trackFailed(t0.Add(at), 3, full)
	}
	want := `level=ERROR msg="tracking sources in the kernel filter" sources=3 failures=1 err="set full"
level=ERROR msg="tracking sources in the kernel filter" sources=3 failures=3 err="set full"
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}
