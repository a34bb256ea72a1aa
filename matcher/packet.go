package matcher

import (
	"errors"
	"net/netip"
	"slices"

	"github.com/otpknock/otpknock/derive"
)

// Reasons of refused events.
const (
	reasonFrom  = "source outside from"
	reasonClaim = "source not among the claimed addresses"
)

// packet checks payload as a packet knock against the packet users among
// cands (the candidates of the element k): it reports the event of the
// candidate whose tag verifies. Nothing else changes any state but the
// counters; a bare packet (no payload) is no packet knock.
func (m *Matcher) packet(cands []cand, src netip.Addr, k derive.Knock, payload []byte) (Event, bool) {
	if len(payload) == 0 {
		return Event{}, false
	}
	tried := false
	for _, c := range cands {
		u := &m.users[c.user]
		if u.Mode != derive.ModePacket {
			continue
		}
		if !tried && (len(payload) < derive.MinPayload || len(payload) > derive.MaxPayload) {
			m.stats.BadSize++
			return Event{}, false
		}
		tried = true
		var bound netip.Addr
		if u.Bind {
			bound = src
		}
		claim, err := m.open(u, c, payload, src, k, bound)
		switch {
		case errors.Is(err, derive.ErrSignature):
			return m.sigRefused(u, c, src), true
		case errors.Is(err, errOverBudget):
			return Event{}, false
		case errors.Is(err, derive.ErrClaim):
			m.stats.BadClaim++ // the tag verified: no other candidate will
			return Event{}, false
		case err != nil:
			continue
		}
		return m.verified(u, c, src, claim), true
	}
	if tried {
		m.stats.BadTag++
	}
	return Event{}, false
}

// claimed decides what a verified packet knock of u leads to, in the
// order of docs/spec.md section 11.5: from, used step, claim; only a
// grant uses the step.
func (m *Matcher) claimed(u *user, c cand, src netip.Addr, claim derive.Claim) Event {
	ev := Event{Mode: derive.ModePacket, User: u.Name, Src: src, Step: c.step, Open: u.Open}
	if !allowed(u.From, src) {
		ev.Kind, ev.Reason, ev.Addrs = Refused, reasonFrom, slices.Clone(claim.Addrs)
		return ev
	}
	ev.Addrs = grantAddrs(u.From, src, claim)
	a := accepted{step: c.step, src: src, source: claim.Source, addrs: claimKey(claim.Addrs)}
	if last, ok := m.used[c.user]; ok && c.step <= last {
		m.reused(&ev, c.user, a)
		return ev
	}
	if !claim.Source && !slices.Contains(claim.Addrs, src) {
		ev.Kind, ev.Reason, ev.Addrs = Refused, reasonClaim, slices.Clone(claim.Addrs)
		return ev
	}
	if ev.Kind, ev.Reason = m.poolUse(u.Name, c.step); ev.Kind != Grant {
		return ev
	}
	m.accept(c.user, a)
	m.stats.PacketGrants++
	ev.Kind = Grant
	return ev
}

// grantAddrs are the addresses a verified claim opens: each claimed
// address inside from, and src when the claim asks for its source; no
// address twice.
func grantAddrs(from []netip.Prefix, src netip.Addr, claim derive.Claim) []netip.Addr {
	out := make([]netip.Addr, 0, len(claim.Addrs)+1)
	for _, a := range claim.Addrs {
		if allowed(from, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if claim.Source && !slices.Contains(out, src) {
		out = append(out, src)
	}
	return out
}
