package matcher

import (
	"net/netip"
	"slices"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Handle processes knock k from src received at now, with the packet's
// payload (UDP payload or ICMP echo data; nil when there is none). It
// returns the event of a sequence the knock completed or of a packet
// knock it carried, if any. Sequence users ignore the payload; payload
// is not kept after Handle returns.
//
// A knock outside the knock range (an echo request whose sequence
// number lies outside it: an ordinary ping) is neither a knock nor a
// stray: it changes nothing. The firewall does not log such packets;
// this holds when a packet reaches the matcher anyway.
func (m *Matcher) Handle(now time.Time, src netip.Addr, k derive.Knock, payload []byte) (Event, bool, error) {
	if err := m.Advance(now); err != nil {
		return Event{}, false, err
	}
	if k.Port < m.cfg.Params.PortMin || k.Port > m.cfg.Params.PortMax {
		return Event{}, false, nil
	}
	m.stats.Packets++
	m.now = now
	src = src.Unmap()
	s := m.sources[src]
	var ev Event
	var done bool
	if s != nil {
		ev, done = m.advance(s, src, now, k)
	}
	if !done {
		ev, done = m.start(s, src, now, k, payload)
	}
	return ev, done, nil
}

// advance moves the source's candidates on knock k.
func (m *Matcher) advance(s *source, src netip.Addr, now time.Time, k derive.Knock) (Event, bool) {
	s.last = now
	kept := s.progs[:0]
	var ev Event
	var done bool
	for _, pr := range s.progs {
		switch {
		case now.Sub(pr.start) > m.cfg.SequenceTimeout:
			m.stats.Expired++
			continue
		case done:
		case k == pr.seq[pr.next]:
			pr.next++
			pr.strays = 0
			if pr.next == 2 {
				m.promote(s, src)
			}
			if pr.next == len(pr.seq) {
				ev, done = m.complete(src, pr.cand), true
				continue
			}
		case pr.next > 0 && k == pr.seq[pr.next-1]:
			// a duplicate of the last matched knock
		default:
			pr.strays++
			if pr.strays > m.cfg.StrayTolerance {
				m.stats.Cancelled++
				continue
			}
		}
		kept = append(kept, pr)
	}
	s.progs = kept
	if done {
		// A grant ends that user's other candidates from this source.
		s.progs = slices.DeleteFunc(s.progs, func(pr progress) bool { return m.users[pr.user].Name == ev.User })
	}
	return ev, done
}

// start begins candidates whose sequence starts with k, and checks the
// packet knocks whose element k is.
func (m *Matcher) start(s *source, src netip.Addr, now time.Time, k derive.Knock, payload []byte) (Event, bool) {
	cands := m.win.Load().starting(k)
	if len(cands) == 0 {
		return Event{}, false
	}
	if ev, done := m.packet(cands, src, k, payload); done {
		return ev, true
	}
	for _, c := range cands {
		u := &m.users[c.user]
		switch {
		case u.Mode == derive.ModePacket:
			continue // a packet user's element starts no sequence
		case u.Bind:
			m.stats.Derived++
			seq, err := u.hd.Sequence(m.scratch[:0], c.step, src)
			if err != nil || seq[0] != k {
				continue
			}
			c.seq = slices.Clone(seq)
		}
		if ev, done := m.begin(&s, src, now, c); done {
			return ev, true
		}
	}
	return Event{}, false
}

// begin adds candidate c for the source (creating the source when
// needed); a one-knock sequence completes at once.
func (m *Matcher) begin(sp **source, src netip.Addr, now time.Time, c cand) (Event, bool) {
	s := *sp
	if s != nil {
		for _, pr := range s.progs {
			if pr.user == c.user && pr.step == c.step {
				return Event{}, false
			}
		}
	}
	m.stats.Started++
	if len(c.seq) == 1 {
		return m.complete(src, c), true
	}
	if s == nil {
		s = m.newSource(src, now)
		*sp = s
	}
	if len(s.progs) >= MaxCandidates {
		s.progs = s.progs[1:]
		m.stats.Cancelled++
	}
	s.progs = append(s.progs, progress{cand: c, next: 1, start: now})
	if m.cfg.Track != nil {
		m.cfg.Track(src, now.Add(m.cfg.SequenceTimeout))
	}
	return Event{}, false
}

// newSource tracks src, evicting a source first when MaxSources are
// tracked (see evictOne).
func (m *Matcher) newSource(src netip.Addr, now time.Time) *source {
	for len(m.sources) >= m.cfg.MaxSources && m.evictOne() {
	}
	m.serial++
	s := &source{last: now, serial: m.serial}
	m.sources[src] = s
	m.enqueue(src, s)
	return s
}

// complete decides what a completed candidate leads to.
func (m *Matcher) complete(src netip.Addr, c cand) Event {
	m.stats.Completed++
	u := m.users[c.user]
	ev := Event{User: u.Name, Src: src, Step: c.step, Open: u.Open, Addrs: []netip.Addr{src}}
	if !allowed(u.From, src) {
		ev.Kind, ev.Reason = Refused, reasonFrom
		return ev
	}
	a := accepted{step: c.step, src: src}
	if last, ok := m.used[c.user]; ok && c.step <= last {
		m.reused(&ev, c.user, a)
		return ev
	}
	if ev.Kind, ev.Reason = m.poolUse(u.Name, c.step); ev.Kind != Grant {
		return ev
	}
	m.accept(c.user, a)
	ev.Kind = Grant
	return ev
}

func allowed(from []netip.Prefix, src netip.Addr) bool {
	if len(from) == 0 {
		return true
	}
	for _, p := range from {
		if p.Contains(src) {
			return true
		}
	}
	return false
}
