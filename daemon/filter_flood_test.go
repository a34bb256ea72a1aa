package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// floodSrc is the i-th source of a flood: distinct for every i < 2^32.
func floodSrc(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
}

// liveTracks counts the live tracked sources a FakeFilter renders.
func liveTracks(ff *firewalltest.FakeFilter) int {
	return strings.Count(ff.String(), "\ntrack ")
}

// TestTrackerFloodBounded reports a million distinct sources to the
// tracker, a full queue every trackBatch, each starting a sequence of
// 10 s: the daemon adds none of them to the kernel's sets (the packet
// path tracked them; its adds would make the set churn), holds at most
// trackRoom of them in memory, and still tracks a source that comes
// after the flood.
func TestTrackerFloodBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := clocktest.NewFake(time.Unix(1800000000, 0))
	ff := &firewalltest.FakeFilter{Fake: &firewalltest.Fake{Clock: c}}
	f := newFilter(ff, c, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		f.run(ctx)
		close(done)
	}()
	track := f.hook()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const total = 1 << 20
	maxLive := 0
	for i, calls := 0, 0; i < total && ctx.Err() == nil; calls++ {
		for j := 0; j < trackQueue && i < total; j, i = j+1, i+1 {
			track(floodSrc(i), c.Now().Add(10*time.Second))
		}
		if err := c.WaitTickers(ctx, 1); err != nil {
			t.Fatalf("the tracker does not wait: %v", err)
		}
		c.Advance(trackBatch)
		for st := f.stats(); ctx.Err() == nil && st.Dropped+st.Tracked < uint64(i); st = f.stats() {
			time.Sleep(time.Millisecond)
		}
		if calls%25 == 0 {
			maxLive = max(maxLive, liveTracks(ff))
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	maxLive = max(maxLive, liveTracks(ff))
	if maxLive > trackRoom {
		t.Errorf("the daemon held %d sources in the kernel's sets at once, want at most %d", maxLive, trackRoom)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Errorf("the tracker's heap grew %d MiB over %d sources, want at most 16", grew>>20, total)
	}
	st := f.stats()
	if st.Tracked+st.Dropped != total || st.Tracked > total/2 {
		t.Errorf("stats %+v: want every one of %d sources tracked or dropped, most dropped", st, total)
	}
	if s := ff.String(); !strings.Contains(s, "tracks=0 ") {
		t.Errorf("the flood's sources reached the kernel's sets from the daemon: %s", s[:strings.Index(s+"\ntrack", "\ntrack")])
	}
	// After the flood (its sources expired) a new source is tracked.
	c.Advance(10 * time.Second)
	legit := netip.MustParseAddr("198.18.0.2")
	track(legit, c.Now().Add(10*time.Second))
	if err := c.WaitTickers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(trackBatch)
	eventually(t, "the source after the flood", func() bool { return strings.Contains(ff.String(), "track 198.18.0.2 10s") })
	cancel()
	<-done
}

// TestTrackFullSet: a kernel set that refuses a whole transaction once
// full (ENFILE) does not keep the daemon from renewing a source whose
// sequence goes on; new sources are not retried one by one.
func TestTrackFullSet(t *testing.T) {
	legit := netip.MustParseAddr("198.18.0.2")
	for _, tc := range []struct {
		name       string
		room, held int // the set's size, sources held before the batch
		fresh      int // new sources in the batch
		wantLive   int
	}{
		{"full set: the renewal goes in", 100, 99, 50, 100},
		{"room for some: renewal only", 100, 59, 50, 60},
		{"room for all", 1000, 59, 50, 110},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, c, ff, f, stop := runTracker(t, tc.room)
			t0 := c.Now()
			batchTo(ctx, t, f, c, trackReq{legit, t0.Add(10 * time.Second)})
			var held []trackReq
			for i := range tc.held {
				held = append(held, trackReq{floodSrc(i + 1<<24), t0.Add(30 * time.Second)})
			}
			batchTo(ctx, t, f, c, held...)
			var reqs []trackReq
			for i := range tc.fresh {
				reqs = append(reqs, trackReq{floodSrc(i + 2<<24), t0.Add(20 * time.Second)})
			}
			reqs = append(reqs, trackReq{legit, t0.Add(20 * time.Second)}) // its sequence goes on
			batchTo(ctx, t, f, c, reqs...)
			stop()
			type state struct {
				Live    int
				Renewed bool
			}
			s := ff.String()
			want := state{tc.wantLive, true}
			got := state{liveTracks(ff), strings.Contains(s, "\ntrack 198.18.0.2 20s")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the kernel's set after the batch (-want +got):\n%s\n%s", diff, s)
			}
		})
	}
}

// runTracker starts a tracker over a FakeFilter of room sources (0: no
// limit) on a fake clock; stop ends it and waits for it.
func runTracker(t *testing.T, room int) (context.Context, *clocktest.Fake, *firewalltest.FakeFilter, *filter, func()) {
	ctx, cancel := context.WithCancel(testContext(t))
	c := clocktest.NewFake(time.Unix(1800000000, 0))
	ff := &firewalltest.FakeFilter{Fake: &firewalltest.Fake{Clock: c}, MaxTracked: room}
	f := newFilter(ff, c, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		f.run(ctx)
		close(done)
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return ctx, c, ff, f, stop
}

// batchTo reports reqs to a running tracker, moves the clock trackBatch
// once it waits, and returns once every source of reqs is counted
// tracked or dropped, or a Track failed.
func batchTo(ctx context.Context, t *testing.T, f *filter, c *clocktest.Fake, reqs ...trackReq) {
	t.Helper()
	st := f.stats()
	track := f.hook()
	for _, r := range reqs {
		track(r.src, r.until)
	}
	if err := c.WaitTickers(ctx, 1); err != nil {
		t.Fatalf("the tracker does not wait: %v", err)
	}
	c.Advance(trackBatch)
	eventually(t, "the batch", func() bool {
		now := f.stats()
		return now.Failures != st.Failures || now.Tracked+now.Dropped >= st.Tracked+st.Dropped+uint64(len(reqs))
	})
}

// TestTrackQuietAfterFlood: after a batch of a flood's size, or a Track
// the full set refused, new sources in smaller batches are not sent for
// a while (floodHold, fullHold): a busy tracker splits a flood into
// batches under trackQuiet, and adds into a set the packet path fills
// let it grow past its size. Renewals still go in; new sources go in
// again once the hold is over.
func TestTrackQuietAfterFlood(t *testing.T) {
	legit := netip.MustParseAddr("198.18.0.2")
	fresh := func(base, n int, until time.Time) []trackReq {
		var reqs []trackReq
		for i := range n {
			reqs = append(reqs, trackReq{floodSrc(base + i), until})
		}
		return reqs
	}
	for _, tc := range []struct {
		name string
		room int // the set's size (0: no limit)
		hold time.Duration
	}{
		{"a flood's batch", 0, floodHold},
		{"a full set", 20, fullHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, c, ff, f, stop := runTracker(t, tc.room)
			t0 := c.Now()
			batchTo(ctx, t, f, c, trackReq{legit, t0.Add(time.Minute)})
			if tc.room == 0 {
				batchTo(ctx, t, f, c, fresh(1<<24, trackQuiet+1, t0.Add(time.Minute))...)
			} else {
				batchTo(ctx, t, f, c, fresh(1<<24, tc.room, t0.Add(time.Minute))...) // refused: the set is full
			}
			before := liveTracks(ff)
			// Within the hold: a small batch of new sources and a renewal.
			batchTo(ctx, t, f, c, append(fresh(2<<24, 10, t0.Add(time.Minute)), trackReq{legit, t0.Add(2 * time.Minute)})...)
			within, renewed := liveTracks(ff), regexp.MustCompile(`(?m)^track 198\.18\.0\.2 1[12]\ds$`).MatchString(ff.String())
			c.Advance(tc.hold)
			if tc.room > 0 {
				ff.MaxTracked = 0 // room again
			}
			batchTo(ctx, t, f, c, fresh(3<<24, 10, c.Now().Add(time.Minute))...)
			after := liveTracks(ff)
			stop()
			type state struct{ Before, Within, After int }
			want := state{before, before, before + 10}
			if diff := cmp.Diff(want, state{before, within, after}); diff != "" || !renewed {
				t.Errorf("live sources in the kernel's set (-want +got):\n%s\nlegit renewed: %v\n%s", diff, renewed, ff.String())
			}
		})
	}
}
