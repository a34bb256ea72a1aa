package matcher

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

var (
	frankKey     = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	frankLocator = []byte("frank's locator secret, 32 bytes")
)

// sigUsers are an ed25519 packet user (the server holds its locator and
// public key only) and an hmac packet user.
func sigUsers() []User {
	return append([]User{{Name: "frank", Secret: frankLocator, Open: ssh, Mode: derive.ModePacket,
		Auth: derive.AuthEd25519, PublicKey: frankKey.Public().(ed25519.PublicKey)}}, packetUsers()[0])
}

func newSigMatcher(t testing.TB, perUser, perSource, newSources int) *Matcher {
	t.Helper()
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance, SigPerUser: perUser, SigPerSource: perSource, SigNewSources: newSources}, sigUsers(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sigSeal makes an Ed25519 packet knock of step for frank's locator,
// signed with key, nonce 16 copies of n.
func sigSeal(t testing.TB, key ed25519.PrivateKey, step uint64, claim derive.Claim, n byte) sealed {
	t.Helper()
	sd, err := derive.NewSigPacket(frankLocator, nil, "gw1", derive.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	k, err := sd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sd.Seal(nil, key, step, bytes.Repeat([]byte{n}, derive.NonceSize), claim, netip.Addr{}, derive.PayloadMin)
	if err != nil {
		t.Fatal(err)
	}
	return sealed{k, p}
}

// short is what the tests compare of an event.
func short(ev Event, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%s %s %s %s", ev.Kind, ev.User, ev.Src, ev.Reason)
}

func TestSigPacket(t *testing.T) {
	me := derive.Claim{Addrs: []netip.Addr{client}}
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
	good := sigSeal(t, frankKey, stepT, me, 1)
	flipped := sigSeal(t, frankKey, stepT, me, 2)
	flipped.payload[40] ^= 0x10
	junk := sealed{good.k, bytes.Repeat([]byte{0x5a}, len(good.payload))}
	m := newSigMatcher(t, 0, 0, 0)
	var got []string
	copied := sigSeal(t, frankKey, stepT, me, 4)
	for _, p := range []struct {
		src netip.Addr
		sealed
	}{{client, junk}, {client, flipped}, {client, sigSeal(t, otherKey, stepT, me, 3)}, {client, good}, {client, copied}, {other, copied}} {
		ev, ok, err := m.Handle(t0, p.src, p.k, p.payload)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, short(ev, ok))
	}
	// The client's own resend after the grant is a duplicate; the same
	// packet from another address is a replay.
	want := []string{"-", "-", "refused frank 198.18.0.2 " + reasonSignature, "grant frank 198.18.0.2 ", "duplicate frank 198.18.0.2 ", "replay frank 198.18.0.3 "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	s := m.Stats()
	if s.BadTag != 2 || s.BadSignature != 1 || s.PacketGrants != 1 {
		t.Errorf("stats: BadTag %d BadSignature %d PacketGrants %d, want 2 1 1", s.BadTag, s.BadSignature, s.PacketGrants)
	}
	if used := m.Used()["frank"]; used != stepT {
		t.Errorf("frank's used step = %d, want %d", used, stepT)
	}
}

// TestSigBudget: an insider with the locator floods the element with
// badly signed knocks. One source is held to its budget; many sources
// (each new one verified once a second, up to a bound) leave the user's
// first packet from a new address verified; a spoofed flood that brings
// the second's bound of new sources delays the user to the next second,
// and not at all from a source the user opened from before.
func TestSigBudget(t *testing.T) {
	me := derive.Claim{Addrs: []netip.Addr{client}}
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
	bad := sigSeal(t, otherKey, stepT, me, 3)
	good := sigSeal(t, frankKey, stepT, me, 1)
	flood := func(m *Matcher, at time.Time, p sealed, sources, each int, third byte) {
		for i := range sources {
			for range each {
				m.Handle(at, netip.AddrFrom4([4]byte{198, 18, third, byte(i)}), p.k, p.payload)
			}
		}
	}
	m := newSigMatcher(t, 20, 5, 50)
	flood(m, t0, bad, 1, 100, 9)
	if s := m.Stats(); s.BadSignature != 5 || s.SigOverBudget != 95 {
		t.Errorf("one source: %d verified, %d over budget; want 5, 95", s.BadSignature, s.SigOverBudget)
	}
	// 40 new sources: their 40 first packets, then what is left of the
	// user's 20 (the first source's 4 later packets took 4).
	flood(m, t0, bad, 40, 5, 10)
	if s := m.Stats(); s.BadSignature != 5+40+16 {
		t.Errorf("40 sources: %d verified in all, want %d", s.BadSignature, 5+40+16)
	}
	if ev, ok, _ := m.Handle(t0, client, good.k, good.payload); !ok || ev.Kind != Grant {
		t.Fatalf("the user's first packet from its address beside the floods: %s, want a grant", short(ev, ok))
	}

	m = newSigMatcher(t, 20, 5, 50)
	flood(m, t0, bad, 100, 1, 11) // a spoofed flood: the second's 50 new sources
	if ev, ok, _ := m.Handle(t0, client, good.k, good.payload); ok {
		t.Fatalf("after the second's new sources: %s, want nothing", short(ev, ok))
	}
	if ev, ok, _ := m.Handle(t0.Add(time.Second), client, good.k, good.payload); !ok || ev.Kind != Grant {
		t.Errorf("the next second: %s, want a grant", short(ev, ok))
	}
	t1 := t0.Add(30 * time.Second) // the next step; the client is now known
	bad1, good1 := sigSeal(t, otherKey, stepT+1, me, 5), sigSeal(t, frankKey, stepT+1, me, 6)
	flood(m, t1, bad1, 100, 3, 12)
	if ev, ok, _ := m.Handle(t1, client, good1.k, good1.payload); !ok || ev.Kind != Grant {
		t.Errorf("a known source under a spoofed flood: %s, want a grant", short(ev, ok))
	}
	if s := m.Stats(); s.BadSignature > 50+20+50+20 {
		t.Errorf("%d verifications in two seconds, want at most the budgets' %d", s.BadSignature, 50+20+50+20)
	}
}

// BenchmarkSigHandle is the matcher's cost per packet on an ed25519
// user's element: junk without the locator, a knock made with the
// locator but another key (verified), and one over the budget.
func BenchmarkSigHandle(b *testing.B) {
	me := derive.Claim{Addrs: []netip.Addr{client}}
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
	good := sigSeal(b, frankKey, stepT, me, 1)
	for _, bc := range []struct {
		name    string
		payload []byte
		budget  int
	}{
		{"junk-without-locator", bytes.Repeat([]byte{0x5a}, len(good.payload)), 1 << 30},
		{"locator-bad-signature", sigSeal(b, otherKey, stepT, me, 3).payload, 1 << 30},
		{"locator-over-budget", sigSeal(b, otherKey, stepT, me, 3).payload, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newSigMatcher(b, bc.budget, bc.budget, bc.budget)
			b.ReportAllocs()
			for b.Loop() {
				m.Handle(t0, client, good.k, bc.payload)
			}
		})
	}
}
