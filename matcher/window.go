package matcher

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Window is what every user's knock of the steps around one step (skew
// on either side) begins with: the sequences of unbound users, the first
// knocks of source-bound users (which do not depend on the source) and the
// elements of packet users, indexed by their first knock in a dense table
// (one slot per protocol and port), so that a packet that starts nothing
// costs one array lookup and a rollover a counting sort.
// Building one for 100,000 users takes a fraction of a second, so the
// daemon builds the next step's on another goroutine
// (PrepareNext) and hands it over (Install) before the step begins; the
// packet path then only swaps it in. Each build reuses the sequences of
// the steps it shares with the current window: one step's worth of
// derivations per rollover.
type Window struct {
	owner *Matcher
	base  uint64
	start []uint32 // cands[start[key]:start[key+1]] begin with the knock of key
	cands []cand
	took  time.Duration // the time the build took
}

// nkeys is the number of (protocol, port) slots of the index: one
// 16-bit value space per protocol of the table.
const nkeys = derive.NumProtos << 16

// key is the index slot of k, or -1 for a protocol the table lacks.
func key(k derive.Knock) int {
	i := k.Proto.Index()
	if i < 0 {
		return -1
	}
	return i<<16 | int(k.Port)
}

// starting returns the candidates whose sequence begins with k.
func (w *Window) starting(k derive.Knock) []cand {
	i := key(k)
	if i < 0 {
		return nil
	}
	return w.cands[w.start[i]:w.start[i+1]]
}

// Advance moves the window to now's step when the step changed: it swaps
// in the window installed for it, or builds it here. It drops stale
// sources.
func (m *Matcher) Advance(now time.Time) error {
	t := derive.Step(now, m.cfg.Params.Period)
	if w := m.win.Load(); w != nil && w.base == t {
		return nil
	}
	w := m.next
	m.next = nil
	if w == nil || w.base != t {
		var err error
		if w, err = m.build(t); err != nil {
			return err
		}
	}
	m.win.Store(w)
	m.stats.Precompute = w.took
	m.sweep(now)
	return nil
}

// NeedsNext says whether the step after now's begins within lead and its
// window is neither built nor current yet.
func (m *Matcher) NeedsNext(now time.Time, lead time.Duration) bool {
	t := derive.Step(now, m.cfg.Params.Period) + 1
	if m.next != nil && m.next.base == t {
		return false
	}
	return derive.StepStart(t, m.cfg.Params.Period).Sub(now) <= lead
}

// PrepareNext builds the window of the step after now's. It is safe to
// call while another goroutine uses the matcher: it reads the current
// window and the users, and derives under its own lock with derivers the
// packet path does not touch (each user has one set for each).
func (m *Matcher) PrepareNext(now time.Time) (*Window, error) {
	return m.build(derive.Step(now, m.cfg.Params.Period) + 1)
}

// Install keeps w until its step begins. A window of another matcher
// (one replaced by a reload meanwhile) is ignored.
func (m *Matcher) Install(w *Window) {
	if w != nil && w.owner == m {
		m.next = w
	}
}

// build computes the window of step t, taking from the current window
// the sequences of the steps both cover.
func (m *Matcher) build(t uint64) (*Window, error) {
	m.building.Lock()
	defer m.building.Unlock()
	began := time.Now()
	lo, hi := m.window(t)
	all := make([]cand, 0, len(m.users)*int(hi-lo+1))
	have := func(uint64) bool { return false }
	if prev := m.win.Load(); prev != nil {
		plo, phi := m.window(prev.base)
		have = func(s uint64) bool { return s >= plo && s <= phi }
		for _, c := range prev.cands {
			if c.step >= lo && c.step <= hi {
				all = append(all, c)
			}
		}
	}
	for s := lo; s <= hi; s++ {
		if have(s) {
			continue
		}
		var err error
		if all, err = m.appendStep(all, s); err != nil {
			return nil, err
		}
	}
	w := &Window{owner: m, base: t}
	w.index(all)
	w.took = time.Since(began)
	return w, nil
}

// appendStep appends to all the candidates of step s for every user: an
// unbound sequence user's sequence, a source-bound user's first knock
// (the same for every source) and a packet user's element. Their knocks
// share one array, never appended to.
func (m *Matcher) appendStep(all []cand, s uint64) ([]cand, error) {
	slab := make([]derive.Knock, 0, len(m.users)*m.cfg.Params.Knocks)
	for i, u := range m.users {
		seq, err := u.knocks(slab[len(slab):], s)
		if err != nil {
			return nil, fmt.Errorf("user %s step %d: %w", u.Name, s, err)
		}
		if cap(slab)-len(slab) >= len(seq) {
			slab = slab[:len(slab)+len(seq)]
		}
		all = append(all, cand{user: i, step: s, seq: seq[:len(seq):len(seq)]})
	}
	return all, nil
}

// knocks appends to dst[:0] what u's window holds for step s, with the
// build's derivers.
func (u *user) knocks(dst []derive.Knock, s uint64) ([]derive.Knock, error) {
	var k derive.Knock
	var err error
	switch {
	case u.Mode == derive.ModePacket:
		k, err = u.element(s)
	case u.Bind:
		k, err = u.d.First(s)
	default:
		return u.d.Sequence(dst, s, netip.Addr{})
	}
	return append(dst[:0], k), err
}

// index sorts the candidates by the slot of their first knock (a counting
// sort, stable) into w.
func (w *Window) index(all []cand) {
	w.start = make([]uint32, nkeys+1)
	for _, c := range all {
		if k := key(c.seq[0]); k >= 0 {
			w.start[k+1]++
		}
	}
	for k := 1; k <= nkeys; k++ {
		w.start[k] += w.start[k-1]
	}
	w.cands = make([]cand, w.start[nkeys])
	next := make([]uint32, nkeys)
	copy(next, w.start[:nkeys])
	for _, c := range all {
		if k := key(c.seq[0]); k >= 0 {
			w.cands[next[k]] = c
			next[k]++
		}
	}
}
