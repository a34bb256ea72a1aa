// Package matcher turns the stream of knock packets into grants. Its
// input is a (time, source address, knock) triple per packet, which the
// daemon takes from the listener; the matcher knows neither the listener
// nor the firewall.
//
// For every user it precomputes the sequences of the steps
// T-skew..T+skew around the current step T (a Window) and indexes them by
// first knock in a table with one slot per (protocol, port), so a packet
// that starts nothing costs one array lookup and creates no state. The
// daemon builds the next step's window ahead, beside the packet path, and
// each build derives only the step it adds.
// A packet that matches a first knock starts a candidate for (source,
// user, step): the step is locked at that first knock. Later packets from
// the source advance it when they are its next knock; a repeat of the
// last matched knock is a no-op (retransmissions, duplicates); any other
// packet is a stray, and more than StrayTolerance (8) strays between two
// of its knocks cancel the candidate. A sweep or scan from one source
// completes a candidate only if every next knock comes within 9 of its
// packets of the previous one: about (9/N)^(k-1) per candidate, 1.4e-12
// for the default N = 80,000 elements and k = 4 knocks, so one success in
// about 200 days of sweeping the whole range at 100,000 packets per
// second against 10,000 users. The tolerance lets a client's knocks
// through junk forged with its address at up to about 8 packets per gap
// (160 packets per second with the default 50 ms gap). SequenceTimeout
// bounds a candidate's life.
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
