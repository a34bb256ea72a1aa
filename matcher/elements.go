package matcher

import (
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Element is a knock that begins something in a window (a first knock
// of a sequence user, a packet user's element), with the time the last
// step holding it leaves the window: until then a packet to it matters,
// after it no longer does. The daemon arms the kernel's filter with
// them.
type Element struct {
	Knock derive.Knock
	Until time.Time
}

// Window returns the current window, nil before the first Advance.
func (m *Matcher) Window() *Window { return m.win.Load() }

// Step returns the step the window is built around.
func (w *Window) Step() uint64 { return w.base }

// Elements lists the window's distinct first knocks in index order
// (TCP, UDP, ICMP, by port), each with the start of the first step
// whose window no longer holds it: step s is in the windows of steps
// s-skew..s+skew, so its knocks matter until step s+skew+1 begins. It
// reads the window only, so it may run beside the packet path.
func (w *Window) Elements() []Element {
	cfg := w.owner.cfg
	skew := uint64(cfg.Skew)
	n := 0
	for k := range nkeys {
		if w.start[k] != w.start[k+1] {
			n++
		}
	}
	out := make([]Element, 0, n)
	for k := range nkeys {
		lo, hi := w.start[k], w.start[k+1]
		if lo == hi {
			continue
		}
		last := uint64(0)
		for _, c := range w.cands[lo:hi] {
			last = max(last, c.step)
		}
		out = append(out, Element{Knock: unkey(k), Until: derive.StepStart(last+skew+1, cfg.Params.Period)})
	}
	return out
}

// unkey is the knock of index slot k (the inverse of key).
func unkey(k int) derive.Knock {
	return derive.Knock{Proto: derive.ProtoAt(k >> 16), Port: uint16(k)}
}
