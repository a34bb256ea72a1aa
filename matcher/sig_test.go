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

func newSigMatcher(t testing.TB, perUser, perSource int) *Matcher {
	t.Helper()
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance, SigPerUser: perUser, SigPerSource: perSource}, sigUsers(), nil)
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
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
	good := sigSeal(t, frankKey, stepT, me, 1)
	flipped := sigSeal(t, frankKey, stepT, me, 2)
	flipped.payload[40] ^= 0x10
	junk := sealed{good.k, bytes.Repeat([]byte{0x5a}, len(good.payload))}
	m := newSigMatcher(t, 0, 0)
	var got []string
	for _, p := range []sealed{junk, flipped, sigSeal(t, other, stepT, me, 3), good, sigSeal(t, frankKey, stepT, me, 4)} {
		ev, ok, err := m.Handle(t0, client, p.k, p.payload)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, short(ev, ok))
	}
	want := []string{"-", "-", "refused frank 198.18.0.2 " + reasonSignature, "grant frank 198.18.0.2 ", "replay frank 198.18.0.2 "}
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
// badly signed knocks; the per-source budget keeps one source from
// spending the user's, and a spoofed flood that spends the user's
// budget delays the user to the next second, and not at all from a
// source the user opened from before.
func TestSigBudget(t *testing.T) {
	me := derive.Claim{Addrs: []netip.Addr{client}}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
	bad := sigSeal(t, other, stepT, me, 3)
	good := sigSeal(t, frankKey, stepT, me, 1)
	m := newSigMatcher(t, 20, 5)
	attacker := netip.MustParseAddr("198.18.9.9")
	for range 100 {
		if _, _, err := m.Handle(t0, attacker, bad.k, bad.payload); err != nil {
			t.Fatal(err)
		}
	}
	if s := m.Stats(); s.BadSignature != 5 || s.SigOverBudget != 95 {
		t.Errorf("one source: %d verified, %d over budget; want 5, 95", s.BadSignature, s.SigOverBudget)
	}
	if ev, ok, _ := m.Handle(t0, client, good.k, good.payload); !ok || ev.Kind != Grant {
		t.Fatalf("the user's knock beside a one-source flood: %s, want a grant", short(ev, ok))
	}
	// Spoofed sources spend the user's budget for this second.
	m = newSigMatcher(t, 20, 5)
	for i := range 100 {
		src := netip.AddrFrom4([4]byte{198, 18, 10, byte(i)})
		m.Handle(t0, src, bad.k, bad.payload)
	}
	if ev, ok, _ := m.Handle(t0, client, good.k, good.payload); ok {
		t.Fatalf("over the user's budget: %s, want nothing", short(ev, ok))
	}
	if ev, ok, _ := m.Handle(t0.Add(time.Second), client, good.k, good.payload); !ok || ev.Kind != Grant {
		t.Errorf("the next second: %s, want a grant", short(ev, ok))
	}
	// The source the user opened from keeps a reserve: the same flood in
	// the next step does not hold up its knock.
	t1 := t0.Add(30 * time.Second)
	bad1, good1 := sigSeal(t, other, stepT+1, me, 5), sigSeal(t, frankKey, stepT+1, me, 6)
	for i := range 100 {
		m.Handle(t1, netip.AddrFrom4([4]byte{198, 18, 11, byte(i)}), bad1.k, bad1.payload)
	}
	if ev, ok, _ := m.Handle(t1, client, good1.k, good1.payload); !ok || ev.Kind != Grant {
		t.Errorf("a known source under a spoofed flood: %s, want a grant", short(ev, ok))
	}
}

// BenchmarkSigHandle is the matcher's cost per packet on an ed25519
// user's element: junk without the locator, a knock made with the
// locator but another key (verified), and one over the budget.
func BenchmarkSigHandle(b *testing.B) {
	me := derive.Claim{Addrs: []netip.Addr{client}}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))
	good := sigSeal(b, frankKey, stepT, me, 1)
	for _, bc := range []struct {
		name    string
		payload []byte
		budget  int
	}{
		{"junk-without-locator", bytes.Repeat([]byte{0x5a}, len(good.payload)), 1 << 30},
		{"locator-bad-signature", sigSeal(b, other, stepT, me, 3).payload, 1 << 30},
		{"locator-over-budget", sigSeal(b, other, stepT, me, 3).payload, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := newSigMatcher(b, bc.budget, bc.budget)
			b.ReportAllocs()
			for b.Loop() {
				m.Handle(t0, client, good.k, bc.payload)
			}
		})
	}
}
