// Package matcher turns the stream of knock packets into grants. Its
// input is a (time, source address, knock, payload) tuple per packet,
// which the daemon takes from the listener; the matcher knows neither the
// listener nor the firewall.
//
// For every user it precomputes what its knocks of the steps
// T-skew..T+skew around the current step T begin with (a Window): an
// unbound user's sequences, a source-bound user's first knocks (the same
// for every source, docs/spec.md section 6.1) and a packet user's
// elements, indexed by first knock in a table with one slot per
// (protocol, port), so a packet that starts nothing costs one array
// lookup, derives nothing and creates no state. The daemon builds the next
// step's window ahead, beside the packet path, and each build derives
// only the step it adds.
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
// is refused and reported. A copy of the user's last grant (its step
// from its source; for a packet knock with its claim: a client's late
// retry, a network duplicate) is refused as a Duplicate, which the
// daemon reports apart from replays. A knock outside the knock range (a
// plain ping's echo sequence number) is neither a knock nor a stray. A
// completion from a source outside the user's
// from CIDRs is refused without using the step. A source-bound user's
// knocks 2..k depend on the source: they are derived once, when its first
// knock arrives from a source.
//
// Packet users knock with one packet whose payload carries a claim and a
// tag (docs/spec.md section 11). A packet to such a user's element is
// checked with the user's packet deriver (the tag in constant time, with
// the source for a bound user); a verified one is refused from outside
// from, is a replay of a used step (the same record as sequences), is
// refused when its source is not among the claimed addresses unless the
// claim asks for its source, and otherwise grants the claimed addresses
// inside from (and the source when asked). Only a grant uses the step.
// Payloads of a bad size, bad tags and malformed claims are counted and
// change nothing; a bare packet to an element is nothing, and a packet
// user's element never starts a sequence.
//
// An ed25519 packet user (User.Auth) is checked in two stages: the
// locator's check, as cheap as a tag, then the signature under the
// user's public key, within a per-second budget (Config.SigPerUser,
// SigPerSource, SigNewSources; a reserve for the sources the user last
// opened from). A payload that passes the check and fails the signature
// is a Refused event, counted; one over the budget is dropped
// unverified and counted. The rest is a packet user's.
//
// A window lists its elements (Window.Elements: every knock that begins
// something in it, with the time it stops doing so) and Config.Track
// reports each source a sequence starts from: the daemon keeps the
// kernel's pre-filter current with both, so only packets that can
// matter reach the matcher, and a tracked source's strays still do.
//
// Memory is bounded: at most MaxSources tracked sources and MaxCandidates
// per source. When the table is full a new source evicts the oldest
// source whose candidates are all at knock 1 (one packet to a first knock
// makes one, from any forged address), and only when none is left the
// oldest that matched a second knock: a flood of first knocks cannot
// push out a slow sequence in progress. Eviction is O(1) amortised. Nothing is ever banned: sources
// are spoofable, and a ban would let anyone lock a user out.
package matcher
