package matcher

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// windowText renders a window's index: one line per candidate, in index
// order, as "first-knock user step knocks".
func windowText(w *Window) []string {
	var out []string
	for _, c := range w.cands {
		out = append(out, fmt.Sprintf("%v u%d T%+d %v", c.seq[0], c.user, int64(c.step-stepT), c.seq))
	}
	return out
}

// TestWindowIncremental checks that a window built from the previous one
// (reusing two steps) indexes exactly what a fresh build does, and that
// every candidate is found under its first knock.
func TestWindowIncremental(t *testing.T) {
	us := manyUsers(50)
	us[7].Bind = true
	us[8].Mode = derive.ModePacket
	cfg := Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second}
	inc, err := New(cfg, us, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		if err := inc.Advance(at); err != nil {
			t.Fatal(err)
		}
		fresh, _ := New(cfg, us, nil)
		if err := fresh.Advance(at); err != nil {
			t.Fatal(err)
		}
		got, want := inc.win.Load(), fresh.win.Load()
		if diff := cmp.Diff(windowText(want), windowText(got)); diff != "" {
			t.Fatalf("step T%+d: incremental window differs from a fresh one (-want +got):\n%s", i, diff)
		}
		if n := len(got.cands); n != 50*3 {
			t.Errorf("step T%+d: %d candidates, want 50 users x 3 steps", i, n)
		}
		for _, c := range got.cands {
			want := 4 // the sequence
			if c.user == 7 || c.user == 8 {
				want = 1 // the bound user's first knock, the packet user's element
			}
			if len(c.seq) != want {
				t.Errorf("u%d step %d: %d knocks indexed, want %d", c.user, c.step, len(c.seq), want)
			}
			if !slices.ContainsFunc(got.starting(c.seq[0]), func(o cand) bool { return o.user == c.user && o.step == c.step }) {
				t.Errorf("u%d step %d not found under %v", c.user, c.step, c.seq[0])
			}
		}
	}
}

// TestPrepareNext builds the next step's window ahead, installs it and
// checks that the rollover swaps it in and knocks of the new step match.
func TestPrepareNext(t *testing.T) {
	m := newMatcher(t, nil)
	if err := m.Advance(t0); err != nil {
		t.Fatal(err)
	}
	end := derive.StepStart(stepT+1, 30*time.Second)
	if m.NeedsNext(t0, 10*time.Second) {
		t.Errorf("NeedsNext 25 s before the step with a 10 s lead")
	}
	before := end.Add(-5 * time.Second)
	if !m.NeedsNext(before, 10*time.Second) {
		t.Fatalf("NeedsNext false 5 s before the step with a 10 s lead")
	}
	w, err := m.PrepareNext(before)
	if err != nil {
		t.Fatal(err)
	}
	m.Install(w)
	if m.NeedsNext(before, 10*time.Second) {
		t.Errorf("NeedsNext after Install")
	}
	other := newMatcher(t, nil)
	other.Install(w) // a window of another matcher: ignored
	if other.next != nil {
		t.Errorf("a matcher installed another matcher's window")
	}
	if err := m.Advance(before); err != nil || m.win.Load() == w {
		t.Fatalf("the window was swapped in before its step (err %v)", err)
	}
	next := seqOf(t, "carol", stepT+1, netip.Addr{})
	var got []string
	for i, k := range next {
		ev, ok, err := m.Handle(end.Add(time.Duration(i)*50*time.Millisecond), client, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, fmt.Sprintf("%v %s step=T%+d", ev.Kind, ev.User, int64(ev.Step-stepT)))
		}
	}
	if m.win.Load() != w {
		t.Errorf("the rollover built a window instead of swapping in the installed one")
	}
	if diff := cmp.Diff([]string{"grant carol step=T+1"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestPrepareNextConcurrent builds windows on one goroutine while another
// handles packets, source-bound users included (run with -race).
func TestPrepareNextConcurrent(t *testing.T) {
	m := newMatcher(t, nil)
	if err := m.Advance(t0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var prepared []*Window
	wg.Go(func() {
		for range 20 {
			w, err := m.PrepareNext(t0)
			if err != nil {
				t.Error(err)
				return
			}
			prepared = append(prepared, w)
		}
	})
	b := seqOf(t, "bob", stepT, client) // bob is source-bound: derived per packet
	kinds := map[Kind]int{}
	for i := range 200 {
		for j, k := range b {
			at := t0.Add(time.Duration(i*len(b)+j) * 2 * time.Millisecond)
			ev, ok, err := m.Handle(at, client, k, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				kinds[ev.Kind]++
			}
		}
	}
	wg.Wait()
	for _, w := range prepared {
		if w.base != stepT+1 {
			t.Errorf("prepared window for step T%+d, want T+1", int64(w.base-stepT))
		}
	}
	if len(prepared) != 20 {
		t.Errorf("%d windows prepared, want 20", len(prepared))
	}
	if diff := cmp.Diff(map[Kind]int{Grant: 1, Duplicate: 199}, kinds); diff != "" {
		t.Errorf("events of 200 sequences in one step (-want +got):\n%s", diff)
	}
}

// TestKeyEveryProtocol checks that the index has a value space for
// every carrier of the protocol table: keys are distinct, in range and
// unkey inverts them; a protocol outside the table has no key.
func TestKeyEveryProtocol(t *testing.T) {
	seen := map[int]derive.Knock{}
	for _, r := range derive.ProtoTable() {
		for _, port := range []uint16{1, 40000, 65535} {
			k := derive.Knock{Proto: r.Proto, Port: port}
			i := key(k)
			if i < 0 || i >= nkeys {
				t.Fatalf("key(%v) = %d, want 0..%d", k, i, nkeys-1)
			}
			if other, dup := seen[i]; dup {
				t.Errorf("key(%v) = key(%v) = %d", k, other, i)
			}
			seen[i] = k
			if got := unkey(i); got != k {
				t.Errorf("unkey(key(%v)) = %v", k, got)
			}
		}
	}
	if i := key(derive.Knock{Proto: 0x80, Port: 1}); i != -1 {
		t.Errorf("key of an unknown protocol = %d, want -1", i)
	}
}
