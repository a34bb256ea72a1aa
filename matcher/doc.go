// Package matcher turns the stream of knock packets into grants.
//
// For every user it precomputes the sequences of the steps
// T-skew..T+skew around the current step T, refreshed when the step
// changes, and maps each sequence's first knock to its candidates, so a
// packet that starts nothing costs one map lookup and creates no state.
// A packet that matches a first knock starts a candidate for (source,
// user, step): the step is locked at that first knock. Later packets from
// the source advance it when they are its next knock; a repeat of the
// last matched knock is a no-op (retransmissions, duplicates); any other
// packet is a stray, and more than StrayTolerance strays cancel the
// candidate, so a port sweep or scan from one source cannot walk through
// a sequence. SequenceTimeout bounds a candidate's life.
//
// A completed candidate is accepted once per (user, step): the last used
// step of each user only moves forward, and the daemon persists it, so a
// replay (same step from any address, or an older step after a restart)
// is refused and reported. A completion from a source outside the user's
// from CIDRs is refused without using the step. Source-bound users derive
// with the source address, so their candidates are computed per source.
//
// Memory is bounded: at most MaxSources tracked sources (the oldest is
// evicted) and MaxCandidates per source. Nothing is ever banned: sources
// are spoofable, and a ban would let anyone lock a user out.
package matcher
