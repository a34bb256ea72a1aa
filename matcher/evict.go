package matcher

import "net/netip"

// tier is a source's rank for eviction when MaxSources are tracked.
// Anyone can fill the table from random addresses with one packet each
// to a first knock (any user's, seen on the path, or an insider's own),
// so a source whose candidates are all at knock 1, or that has none, is
// fresh and goes first; a source that matched a second knock of some
// candidate has shown more than a first knock and is advanced: it goes
// only when no fresh source is left. Within a tier the oldest goes
// first.
type tier uint8

const (
	tierFresh    tier = iota // every candidate at knock 1, or none
	tierAdvanced             // a candidate matched a second knock
	tiers                    // the number of tiers
)

// queued is an entry of an eviction queue: the source of addr with
// serial. It goes stale when that source is deleted or changes tier;
// stale entries are skipped when met, and dropped by sweep.
type queued struct {
	addr   netip.Addr
	serial uint64
}

// enqueue appends s, the source of addr, to its tier's queue.
func (m *Matcher) enqueue(addr netip.Addr, s *source) {
	m.queues[s.tier] = append(m.queues[s.tier], queued{addr: addr, serial: s.serial})
}

// promote makes s, the source of addr, advanced; its fresh entry goes
// stale. A source is promoted once and never demoted: it expires.
func (m *Matcher) promote(s *source, addr netip.Addr) {
	if s.tier == tierAdvanced {
		return
	}
	s.tier = tierAdvanced
	m.enqueue(addr, s)
}

// queuedSource returns the source q names in tier t's queue, or nil when
// the entry is stale.
func (m *Matcher) queuedSource(t tier, q queued) *source {
	s := m.sources[q.addr]
	if s == nil || s.serial != q.serial || s.tier != t {
		return nil
	}
	return s
}

// evictOne deletes the oldest fresh source, else the oldest advanced
// one, counting its candidates as evicted; it reports whether there was
// one. Each entry is passed over once, so eviction is O(1) amortised.
func (m *Matcher) evictOne() bool {
	for t := range m.queues {
		q := m.queues[t]
		for len(q) > 0 {
			e := q[0]
			q = q[1:]
			if s := m.queuedSource(tier(t), e); s != nil {
				m.queues[t] = q
				m.stats.Evicted += uint64(len(s.progs))
				delete(m.sources, e.addr)
				return true
			}
		}
		m.queues[t] = q
	}
	return false
}
