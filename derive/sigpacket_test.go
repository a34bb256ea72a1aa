package derive

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/netip"
	"testing"
)

// sigFixture is a user's two keys and the server's deriver (locator and
// public key only).
type sigFixture struct {
	locator []byte
	key     ed25519.PrivateKey
	server  *SigPacketDeriver
	k       Knock
}

func newSigFixture(t testing.TB) sigFixture {
	t.Helper()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	locator := seq(32)
	sd, err := NewSigPacket(locator, key.Public().(ed25519.PublicKey), "example", packetParams())
	if err != nil {
		t.Fatal(err)
	}
	k, err := sd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	return sigFixture{locator: locator, key: key, server: sd, k: k}
}

const step = 59000000

// seal seals claim c as the client does: its own deriver, without the
// public key.
func (f sigFixture) seal(t testing.TB, key ed25519.PrivateKey, c Claim, bound netip.Addr, size int) []byte {
	t.Helper()
	client, err := NewSigPacket(f.locator, nil, "example", packetParams())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := client.Seal(nil, key, step, nonce, c, bound, size)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return payload
}

func TestSigPacketRoundTrip(t *testing.T) {
	f := newSigFixture(t)
	for _, tc := range []struct {
		name  string
		claim Claim
		bound netip.Addr
		size  int
	}{
		{"ipv4", Claim{Addrs: []netip.Addr{v4}}, netip.Addr{}, PayloadMin},
		{"dual stack, bound", Claim{Addrs: []netip.Addr{v4, v6}}, v6, PayloadMax},
		{"source only, smallest", Claim{Source: true}, netip.Addr{}, MinSigPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := f.seal(t, f.key, tc.claim, tc.bound, tc.size)
			if len(p) != tc.size {
				t.Fatalf("payload %d bytes, want %d", len(p), tc.size)
			}
			got, err := f.server.Open(p, step, f.k, tc.bound)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got.Source != tc.claim.Source || len(got.Addrs) != len(tc.claim.Addrs) {
				t.Errorf("claim = %+v, want %+v", got, tc.claim)
			}
		})
	}
}

// TestSigPacketRefused: a knock signed by another key, or with any one
// bit of the payload flipped, is refused; and the locator alone (the
// server's whole store) cannot make a knock that opens.
func TestSigPacketRefused(t *testing.T) {
	f := newSigFixture(t)
	c := Claim{Addrs: []netip.Addr{v4}}
	good := f.seal(t, f.key, c, netip.Addr{}, PayloadMin)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	if _, err := f.server.Open(f.seal(t, other, c, netip.Addr{}, PayloadMin), step, f.k, netip.Addr{}); !errors.Is(err, ErrSignature) {
		t.Errorf("signed by another key: %v, want %v", err, ErrSignature)
	}
	for bit := range len(good) * 8 {
		b := bytes.Clone(good)
		b[bit/8] ^= 1 << (bit % 8)
		if _, err := f.server.Open(b, step, f.k, netip.Addr{}); !errors.Is(err, ErrTag) {
			t.Fatalf("bit %d flipped: %v, want %v", bit, err, ErrTag)
		}
		// An insider with the locator re-computes the check: only the
		// signature is left, and it refuses every flipped bit.
		f.server.pd.sumTag(step, f.k, b[:NonceSize], b[NonceSize:len(b)-TagSize], netip.Addr{})
		copy(b[len(b)-TagSize:], f.server.pd.sum[:TagSize])
		if bit/8 >= len(b)-TagSize {
			continue // the flip was in the check itself, now rewritten
		}
		if _, err := f.server.Open(b, step, f.k, netip.Addr{}); !errors.Is(err, ErrSignature) {
			t.Fatalf("bit %d flipped, check recomputed: %v, want %v", bit, err, ErrSignature)
		}
	}
	if _, err := f.server.Open(good, step+1, f.k, netip.Addr{}); err == nil {
		t.Error("a knock of another step opened")
	}
	if _, err := f.server.Open(good, step, f.k, v4); err == nil {
		t.Error("an unbound knock opened as a bound one")
	}
}

func TestSigPacketSealErrors(t *testing.T) {
	f := newSigFixture(t)
	client, _ := NewSigPacket(f.locator, nil, "example", packetParams())
	c := Claim{Addrs: []netip.Addr{v4}}
	for _, tc := range []struct {
		name  string
		key   ed25519.PrivateKey
		nonce []byte
		c     Claim
		size  int
	}{
		{"short key", f.key[:32], nonce, c, PayloadMin},
		{"short nonce", f.key, nonce[:15], c, PayloadMin},
		{"too small for the claim", f.key, nonce, c, SigNeed(c) - 1},
		{"too large", f.key, nonce, c, MaxPayload + 1},
		{"nothing to open", f.key, nonce, Claim{}, PayloadMin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := client.Seal(nil, tc.key, step, tc.nonce, tc.c, netip.Addr{}, tc.size); err == nil || len(out) != 0 {
				t.Errorf("Seal = %x, %v; want an error and nothing written", out, err)
			}
		})
	}
	if _, err := client.Open(f.seal(t, f.key, c, netip.Addr{}, PayloadMin), step, f.k, netip.Addr{}); !errors.Is(err, ErrSignature) {
		t.Errorf("a deriver without a public key opened a knock: %v", err)
	}
	if _, err := NewSigPacket(f.locator, make([]byte, 31), "example", packetParams()); err == nil {
		t.Error("a 31-byte public key was accepted")
	}
}

func TestSizeRange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      Claim
		lo, hi int
	}{
		{"one ipv4", Claim{Addrs: []netip.Addr{v4}}, 131, 192},
		{"two ipv6: the floor", Claim{Addrs: []netip.Addr{v6, v6}}, 131, 192},
		{"four ipv6", Claim{Addrs: []netip.Addr{v6, v6, v6, v6}}, 165, 192},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if lo, hi := SizeRange(tc.c); lo != tc.lo || hi != tc.hi {
				t.Errorf("SizeRange = %d..%d, want %d..%d", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

// BenchmarkSigPacketOpen measures what the server spends per packet on
// an Ed25519 user's element: junk from someone without the locator (the
// check refuses it), a payload made with the locator but a bad
// signature (the check passes, the signature refuses it), and a good
// knock. Compare BenchmarkPacketOpen, the hmac mode.
func BenchmarkSigPacketOpen(b *testing.B) {
	f := newSigFixture(b)
	c := Claim{Addrs: []netip.Addr{v4}}
	good := f.seal(b, f.key, c, netip.Addr{}, PayloadMin)
	junk := bytes.Repeat([]byte{0x5a}, PayloadMin)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	badSig := f.seal(b, other, c, netip.Addr{}, PayloadMin)
	for _, bc := range []struct {
		name    string
		payload []byte
		want    error
	}{
		{"junk-without-locator", junk, ErrTag},
		{"locator-bad-signature", badSig, ErrSignature},
		{"good", good, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.server.Open(bc.payload, step, f.k, netip.Addr{}); !errors.Is(err, bc.want) {
					b.Fatal(err)
				}
			}
		})
	}
}
