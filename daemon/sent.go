package daemon

import (
	"net/netip"
	"time"
)

// sentSet is what the tracker handed to the kernel and until when, in
// a fixed room: the daemon holds at most its capacity of sources at a
// time, whatever the packet path reports, so a flood of new sources
// costs neither the daemon's memory nor the kernel's source sets more
// than that. Entries leave in the order they came, once expired (a
// renewed entry at the head keeps the ones behind it a little longer:
// they are counted, never lost).
type sentSet struct {
	until map[netip.Addr]int64 // Unix nanoseconds; 0: not in the kernel (its Track failed)
	ring  []netip.Addr         // the keys of until, oldest first from head
	head  int
	n     int
}

// newSentSet returns an empty set holding up to size sources.
func newSentSet(size int) *sentSet {
	return &sentSet{until: make(map[netip.Addr]int64, size), ring: make([]netip.Addr, size)}
}

// expire drops the oldest entries that expired by now.
func (s *sentSet) expire(now time.Time) {
	t := now.UnixNano()
	for s.n > 0 {
		a := s.ring[s.head]
		if s.until[a] > t {
			return
		}
		delete(s.until, a)
		s.ring[s.head] = netip.Addr{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
	}
}

// put records src as sent until, at now: renew reports a source the
// kernel holds (sent, not expired: adding it again cannot fill its
// set), ok whether it is to be sent (false: held as long already, or no
// room for a new source).
func (s *sentSet) put(src netip.Addr, until, now time.Time) (renew, ok bool) {
	u := until.UnixNano()
	if prev, held := s.until[src]; held {
		if u <= prev {
			return true, false
		}
		s.until[src] = u
		return prev > now.UnixNano(), true
	}
	if s.n == len(s.ring) {
		return false, false
	}
	s.until[src] = u
	s.ring[(s.head+s.n)%len(s.ring)] = src
	s.n++
	return false, true
}

// forget marks src as not in the kernel, so that a later report sends
// it again; it keeps its room until it expires.
func (s *sentSet) forget(src netip.Addr) {
	if _, ok := s.until[src]; ok {
		s.until[src] = 0
	}
}
