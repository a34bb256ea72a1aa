package matcher

import (
	"crypto/ed25519"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Defaults of the signature budget (docs/spec.md section 11.11, check
// 3). In each second, a source's first payload that passes the locator's
// check is verified, for up to DefaultSigNewSources sources; a source's
// later ones, up to DefaultSigPerSource, take from their user's budget,
// DefaultSigPerUser. A verification costs about 50 µs, so the defaults
// bound what a flood from holders of a locator secret costs to about a
// tenth of a core for new sources and 1% per user, whatever its rate.
// A client's first packet from its address is verified unless a
// spoofed flood already brought that second's new sources; the last
// sources an ed25519 user's knocks opened from keep a reserve of their
// own (sigKnownReserve a second), so such a flood does not lock the
// user out from where it knocks.
const (
	DefaultSigPerUser    = 200
	DefaultSigPerSource  = 10
	DefaultSigNewSources = 2048
	sigKnownSources      = 4  // granted sources remembered per user
	sigKnownReserve      = 20 // verifications a second for them, beside the user's budget
)

// Reason of a refused Ed25519 knock: it passed the locator's check, so it
// was made with the user's locator secret, but not with the user's key.
const reasonSignature = "signature does not verify: the locator secret may have leaked"

// errOverBudget is a payload that passed the locator's check when the
// second's signature budget was spent: dropped unverified.
var errOverBudget = errors.New("signature budget spent")

// sigBudget counts the verifications of the current second, and
// remembers the sources each user's knocks opened from.
type sigBudget struct {
	sec      int64
	perUser  map[int]int
	perKnown map[int]int
	perSrc   map[netip.Addr]int
	known    map[int][]netip.Addr // the user's last granted sources, newest last
}

// allow takes one verification for (user, src) at now, or reports that
// the second's budget is spent: the source's, then the reserve of the
// user's known sources, a new source's first, or the user's budget.
func (b *sigBudget) allow(now time.Time, user int, src netip.Addr, cfg Config) bool {
	if s := now.Unix(); s != b.sec || b.perUser == nil {
		b.sec, b.perUser, b.perKnown, b.perSrc = s, map[int]int{}, map[int]int{}, map[netip.Addr]int{}
	}
	n, seen := b.perSrc[src]
	switch {
	case n >= cfg.SigPerSource:
		return false
	case slices.Contains(b.known[user], src) && b.perKnown[user] < sigKnownReserve:
		b.perKnown[user]++
	case !seen && len(b.perSrc) < cfg.SigNewSources:
	case seen && b.perUser[user] < cfg.SigPerUser:
		b.perUser[user]++
	default:
		return false
	}
	b.perSrc[src] = n + 1
	return true
}

// granted remembers src as a source user's knock opened from.
func (b *sigBudget) granted(user int, src netip.Addr) {
	if b.known == nil {
		b.known = map[int][]netip.Addr{}
	}
	ks := slices.DeleteFunc(b.known[user], func(a netip.Addr) bool { return a == src })
	if len(ks) >= sigKnownSources {
		ks = ks[1:]
	}
	b.known[user] = append(ks, src)
}

// newSigUser makes an ed25519 packet user's derivers: the build's and the
// packet path's, keyed with the locator secret (u.Secret) and holding
// the public key only.
func newSigUser(cfg Config, w user) (user, error) {
	var err error
	pub := ed25519.PublicKey(w.PublicKey)
	sid := w.serverID(cfg) // a fleet user's identity
	if w.sd, err = derive.NewSigPacket(w.Secret, pub, sid, cfg.Params); err != nil {
		return w, err
	}
	w.hs, err = derive.NewSigPacket(w.Secret, pub, sid, cfg.Params)
	return w, err
}

// element is a packet user's element of step s, with the build's
// deriver of its auth.
func (u *user) element(s uint64) (derive.Knock, error) {
	if u.sd != nil {
		return u.sd.Knock(s)
	}
	return u.pd.Knock(s)
}

// open verifies payload as u's packet knock of candidate c on element k:
// an hmac user's tag, or an ed25519 user's locator check, then (within
// the budget) its signature.
func (m *Matcher) open(u *user, c cand, payload []byte, src netip.Addr, k derive.Knock, bound netip.Addr) (derive.Claim, error) {
	if u.hs == nil {
		return u.hp.Open(payload, c.step, k, bound)
	}
	if err := u.hs.Check(payload, c.step, k, bound); err != nil {
		return derive.Claim{}, err
	}
	if !m.budget.allow(m.now, c.user, src, m.cfg) {
		m.stats.SigOverBudget++
		return derive.Claim{}, errOverBudget
	}
	return u.hs.OpenChecked(payload, c.step, k, bound)
}

// verified decides what a verified packet knock of u leads to
// ([Matcher.claimed]); an ed25519 user's grant makes its source known to
// the budget.
func (m *Matcher) verified(u *user, c cand, src netip.Addr, claim derive.Claim) Event {
	ev := m.claimed(u, c, src, claim)
	if ev.Kind == Grant && u.hs != nil {
		m.budget.granted(c.user, src)
	}
	return ev
}

// sigRefused is the event of an ed25519 knock whose signature does not
// verify: one log line, nothing used.
func (m *Matcher) sigRefused(u *user, c cand, src netip.Addr) Event {
	m.stats.BadSignature++
	return Event{Kind: Refused, Mode: derive.ModePacket, User: u.Name, Src: src, Step: c.step, Open: u.Open, Reason: reasonSignature}
}
