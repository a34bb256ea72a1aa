package firewalltest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// FakeFilter is a Fake with a Filter, its armed elements and tracked
// sources expiring on the Fake's clock. A plain Fake has no Filter: the
// daemon then logs the whole knock range, as a backend without one does.
type FakeFilter struct {
	*Fake
	ArmErr   error // returned by Arm when set
	TrackErr error // returned by Track when set
	// MaxTracked, when set, is the most live sources the fake holds:
	// a Track that would hold more fails as a whole with
	// firewall.ErrFull, as a full nftables set refuses a transaction.
	MaxTracked int

	fmu     sync.Mutex
	armed   map[derive.Knock]time.Time
	tracked map[netip.Addr]time.Time
	arms    int // calls of Arm
	sent    int // elements given to Arm, over all calls
	tracks  int // calls of Track
}

// Arm records each element with its expiry.
func (f *FakeFilter) Arm(elems []firewall.Element) error {
	if f.ArmErr != nil {
		return f.ArmErr
	}
	now := f.Clock.Now()
	f.fmu.Lock()
	defer f.fmu.Unlock()
	if f.armed == nil {
		f.armed = map[derive.Knock]time.Time{}
	}
	f.arms++
	f.sent += len(elems)
	for _, e := range elems {
		f.armed[e.Knock] = now.Add(e.TTL)
	}
	return nil
}

// Track records each source with its expiry.
func (f *FakeFilter) Track(srcs []firewall.Source) error {
	if f.TrackErr != nil {
		return f.TrackErr
	}
	now := f.Clock.Now()
	f.fmu.Lock()
	defer f.fmu.Unlock()
	if f.tracked == nil {
		f.tracked = map[netip.Addr]time.Time{}
	}
	f.tracks++
	if f.MaxTracked > 0 && f.liveAfter(srcs, now) > f.MaxTracked {
		return fmt.Errorf("tracking %d sources: %w", len(srcs), firewall.ErrFull)
	}
	for _, s := range srcs {
		f.tracked[s.Addr.Unmap()] = now.Add(s.TTL)
	}
	return nil
}

// liveAfter is how many live sources the fake would hold with srcs.
func (f *FakeFilter) liveAfter(srcs []firewall.Source, now time.Time) int {
	n := 0
	for _, exp := range f.tracked {
		if now.Before(exp) {
			n++
		}
	}
	seen := map[netip.Addr]bool{}
	for _, s := range srcs {
		a := s.Addr.Unmap()
		if !seen[a] && !now.Before(f.tracked[a]) {
			n++
		}
		seen[a] = true
	}
	return n
}

// Passes reports whether the filter logs a knock k from src now: k lies
// in the installed plan's knock range (an echo request outside it is the
// host's traffic, a TCP or UDP packet outside it no knock) and is an
// armed element, comes from a tracked source, or is an echo sequence
// (the iptables kernel sets hold ports only).
func (f *FakeFilter) Passes(src netip.Addr, k derive.Knock) bool {
	now := f.Clock.Now()
	f.Fake.mu.Lock()
	lo, hi := f.Fake.plan.PortMin, f.Fake.plan.PortMax
	f.Fake.mu.Unlock()
	if k.Port < lo || k.Port > hi {
		return false
	}
	f.fmu.Lock()
	defer f.fmu.Unlock()
	r, _ := k.Proto.Info()
	return r.Value == derive.ValueSequence || now.Before(f.armed[k]) || now.Before(f.tracked[src.Unmap()])
}

// Armed lists the live armed elements, sorted.
func (f *FakeFilter) Armed() []derive.Knock {
	now := f.Clock.Now()
	f.fmu.Lock()
	defer f.fmu.Unlock()
	var out []derive.Knock
	for k, exp := range f.armed {
		if now.Before(exp) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b derive.Knock) int {
		return int(a.Proto)<<16 + int(a.Port) - (int(b.Proto)<<16 + int(b.Port))
	})
	return out
}

// String renders the Fake's state, then the calls of Arm and Track, the
// live armed elements, the elements Arm was given in all, and each live
// tracked source with the seconds left, sorted, and the
// (Armed lists the live armed elements).
func (f *FakeFilter) String() string {
	armed := len(f.Armed())
	now := f.Clock.Now()
	f.fmu.Lock()
	defer f.fmu.Unlock()
	lines := []string{f.Fake.String(), fmt.Sprintf("filter arms=%d tracks=%d armed=%d sent=%d", f.arms, f.tracks, armed, f.sent)}
	var ts []string
	for a, exp := range f.tracked {
		if left := exp.Sub(now); left > 0 {
			ts = append(ts, fmt.Sprintf("track %s %.0fs", a, left.Seconds()))
		}
	}
	slices.Sort(ts)
	return strings.Join(append(lines, ts...), "\n")
}
