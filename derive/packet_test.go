package derive

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func packetParams() Params {
	p := DefaultParams()
	p.Protocols = Protocols(TCP | UDP | ICMP)
	return p
}

func mustNewPacket(t testing.TB, p Params) *PacketDeriver {
	t.Helper()
	pd, err := NewPacket(testSecret, "example", p)
	if err != nil {
		t.Fatalf("NewPacket: %v", err)
	}
	return pd
}

var (
	v4    = netip.MustParseAddr("198.18.0.2")
	v6    = netip.MustParseAddr("2001:2::2")
	nonce = seq(NonceSize)
)

func TestPacketRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		claim Claim
		src   netip.Addr // bound source
		size  int
	}{
		{"ipv4", Claim{Addrs: []netip.Addr{v4}}, netip.Addr{}, PayloadMin},
		{"ipv6", Claim{Addrs: []netip.Addr{v6}}, netip.Addr{}, PayloadMin},
		{"dual stack", Claim{Addrs: []netip.Addr{v4, v6}}, netip.Addr{}, PayloadMax},
		{"behind NAT", Claim{Source: true}, netip.Addr{}, MinPayload},
		{"NAT and global ipv6", Claim{Addrs: []netip.Addr{v6}, Source: true}, netip.Addr{}, 100},
		{"bound ipv4", Claim{Addrs: []netip.Addr{v4}}, v4, MaxPayload},
		{"bound ipv6", Claim{Addrs: []netip.Addr{v6}}, v6, 90},
		{"four addresses", Claim{Addrs: []netip.Addr{v4, v6, v4.Next(), v6.Next()}}, netip.Addr{}, PayloadMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := mustNewPacket(t, packetParams())
			const step = 59_000_000
			payload, err := pd.Seal(nil, step, nonce, tc.claim, tc.src, tc.size)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(payload) != tc.size {
				t.Errorf("payload is %d bytes, want %d", len(payload), tc.size)
			}
			k, err := pd.Knock(step)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pd.Open(payload, step, k, tc.src)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if diff := cmp.Diff(tc.claim, got, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("claim (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPacketRefuses changes one input at a time: each must fail the tag.
func TestPacketRefuses(t *testing.T) {
	pd := mustNewPacket(t, packetParams())
	const step = 1000
	k, err := pd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := pd.Seal(nil, step, nonce, Claim{Addrs: []netip.Addr{v4}}, v4, PayloadMin)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewPacket(seq(33), "example", packetParams())
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := NewPacket(testSecret, "example2", packetParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pd   *PacketDeriver
		step uint64
		k    Knock
		src  netip.Addr
	}{
		{"next step", pd, step + 1, k, v4},
		{"other element", pd, step, Knock{Proto: k.Proto, Port: k.Port + 1}, v4},
		{"other protocol", pd, step, Knock{Proto: k.Proto ^ (UDP | ICMP), Port: k.Port}, v4},
		{"other source", pd, step, k, v4.Next()},
		{"no source", pd, step, k, netip.Addr{}},
		{"other secret", other, step, k, v4},
		{"other server", otherID, step, k, v4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.pd.Open(payload, tc.step, tc.k, tc.src); !errors.Is(err, ErrTag) {
				t.Errorf("Open = %v, want %v", err, ErrTag)
			}
		})
	}
	t.Run("every bit flipped", func(t *testing.T) {
		for i := range payload {
			for bit := range 8 {
				b := slices.Clone(payload)
				b[i] ^= 1 << bit
				if _, err := pd.Open(b, step, k, v4); !errors.Is(err, ErrTag) {
					t.Fatalf("byte %d bit %d flipped: Open = %v, want %v", i, bit, err, ErrTag)
				}
			}
		}
	})
	t.Run("truncated and extended", func(t *testing.T) {
		for _, b := range [][]byte{payload[:len(payload)-1], payload[1:], append(slices.Clone(payload), 0)} {
			if _, err := pd.Open(b, step, k, v4); !errors.Is(err, ErrTag) {
				t.Errorf("%d bytes: Open = %v, want %v", len(b), err, ErrTag)
			}
		}
	})
	t.Run("size out of range", func(t *testing.T) {
		for _, n := range []int{0, MinPayload - 1, MaxPayload + 1} {
			if _, err := pd.Open(make([]byte, n), step, k, v4); !errors.Is(err, ErrPayloadSize) {
				t.Errorf("%d bytes: Open = %v, want %v", n, err, ErrPayloadSize)
			}
		}
	})
}

func TestSealErrors(t *testing.T) {
	pd := mustNewPacket(t, packetParams())
	five := Claim{Addrs: []netip.Addr{v4, v4, v4, v4, v4}}
	for _, tc := range []struct {
		name  string
		nonce []byte
		claim Claim
		size  int
	}{
		{"short nonce", nonce[:15], Claim{Source: true}, PayloadMin},
		{"nothing to open", nonce, Claim{}, PayloadMin},
		{"five addresses", nonce, five, PayloadMax},
		{"too small for the claim", nonce, Claim{Addrs: []netip.Addr{v6}}, MinPayload},
		{"too large", nonce, Claim{Source: true}, MaxPayload + 1},
		{"invalid address", nonce, Claim{Addrs: []netip.Addr{{}}}, PayloadMin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := pd.Seal(nil, 1, tc.nonce, tc.claim, netip.Addr{}, tc.size)
			if err == nil || len(out) != 0 {
				t.Errorf("Seal = %d bytes, %v; want an error and nothing appended", len(out), err)
			}
		})
	}
}

// TestParseClaim covers claims that only a broken client could seal: the
// tag verifies, the claim does not parse.
func TestParseClaim(t *testing.T) {
	pd := mustNewPacket(t, packetParams())
	a4 := v4.As4()
	for _, tc := range []struct {
		name string
		pt   []byte
		ok   bool
	}{
		{"empty claim", []byte{0}, true},
		{"source only, padded", []byte{claimSource, 0, 0}, true},
		{"one ipv4", append([]byte{1, 4}, a4[:]...), true},
		{"reserved flag", []byte{0x10}, false},
		{"count 5", []byte{5}, false},
		{"count beyond the bytes", []byte{1}, false},
		{"short address", []byte{1, 4, 1, 2}, false},
		{"unknown family", append([]byte{1, 5}, a4[:]...), false},
		{"mapped ipv6", append([]byte{1, 6}, netip.AddrFrom16(netip.AddrFrom4(a4).As16()).AsSlice()...), false},
		{"non-zero padding", []byte{0, 0, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pd.parseClaim(tc.pt)
			if (err == nil) != tc.ok {
				t.Errorf("parseClaim(% x) = %v, want ok=%v", tc.pt, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrClaim) {
				t.Errorf("error %v is not ErrClaim", err)
			}
		})
	}
}

func TestPacketKnock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		protos Protocols
		want   Protocols
	}{
		{"udp only", Protocols(UDP), Protocols(UDP)},
		{"icmp only", Protocols(ICMP), Protocols(ICMP)},
		{"tcp dropped", Protocols(TCP | UDP | ICMP), Protocols(UDP | ICMP)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Protocols = tc.protos
			p.Exclude = []uint16{20000, 20001}
			pd := mustNewPacket(t, p)
			seen := Protocols(0)
			for step := range uint64(500) {
				k, err := pd.Knock(step)
				if err != nil {
					t.Fatal(err)
				}
				if !tc.want.Has(k.Proto) || k.Port < p.PortMin || k.Port > p.PortMax || slices.Contains(p.Exclude, k.Port) {
					t.Fatalf("step %d: knock %v outside protocols %v, range %s, exclude %v", step, k, tc.want, p.RangeString(), p.Exclude)
				}
				again, _ := pd.Knock(step)
				if again != k {
					t.Fatalf("step %d: %v then %v", step, k, again)
				}
				seen |= Protocols(k.Proto)
			}
			if seen != tc.want {
				t.Errorf("500 steps used %v, want all of %v", seen, tc.want)
			}
		})
	}
	t.Run("tcp only refused", func(t *testing.T) {
		p := DefaultParams()
		p.Protocols = Protocols(TCP)
		if _, err := NewPacket(testSecret, "example", p); !errors.Is(err, ErrNoPacketProtocol) {
			t.Errorf("NewPacket = %v, want %v", err, ErrNoPacketProtocol)
		}
	})
	t.Run("not the sequence's first knock's label", func(t *testing.T) {
		// The element is domain-separated from sequences: over many steps
		// it differs from the first knock of the same parameters.
		p := DefaultParams()
		p.Protocols = Protocols(UDP)
		p.Knocks = 5
		d := mustNew(t, testSecret, "example", p)
		pd := mustNewPacket(t, p)
		same := 0
		for step := range uint64(200) {
			seq, err := d.Sequence(nil, step, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			k, err := pd.Knock(step)
			if err != nil {
				t.Fatal(err)
			}
			if seq[0] == k {
				same++
			}
		}
		if same > 2 {
			t.Errorf("packet element equals the sequence's first knock in %d of 200 steps", same)
		}
	})
}

func TestPacketAllocs(t *testing.T) {
	pd := mustNewPacket(t, packetParams())
	k, _ := pd.Knock(7)
	payload, err := pd.Seal(nil, 7, nonce, Claim{Addrs: []netip.Addr{v4, v6}}, netip.Addr{}, PayloadMax)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, MaxPayload)
	for name, fn := range map[string]func(){
		"Knock":     func() { pd.Knock(7) },
		"Open":      func() { pd.Open(payload, 7, k, netip.Addr{}) },
		"Open bad":  func() { pd.Open(payload[1:], 7, k, netip.Addr{}) },
		"Seal into": func() { pd.Seal(buf[:0], 7, nonce, Claim{Addrs: []netip.Addr{v4}}, netip.Addr{}, PayloadMin) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// BenchmarkPacketOpen is the server's cost per candidate of a packet knock:
// a tag check that fails, and one that verifies and decrypts the claim.
func BenchmarkPacketOpen(b *testing.B) {
	pd := mustNewPacket(b, packetParams())
	k, _ := pd.Knock(7)
	payload, err := pd.Seal(nil, 7, nonce, Claim{Addrs: []netip.Addr{v4, v6}}, netip.Addr{}, PayloadMax)
	if err != nil {
		b.Fatal(err)
	}
	bad := slices.Clone(payload)
	bad[len(bad)-1] ^= 1
	for name, p := range map[string][]byte{"valid": payload, "wrong-tag": bad} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pd.Open(p, 7, k, netip.Addr{})
			}
		})
	}
}

// FuzzPacketOpen feeds arbitrary payloads to Open: it never panics, and a
// payload not sealed with the key never verifies.
func FuzzPacketOpen(f *testing.F) {
	pd := mustNewPacket(f, packetParams())
	k, _ := pd.Knock(7)
	good, err := pd.Seal(nil, 7, nonce, Claim{Addrs: []netip.Addr{v4}}, netip.Addr{}, PayloadMin)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add(make([]byte, MaxPayload))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := pd.Open(b, 7, k, netip.Addr{})
		if err == nil && !slices.Equal(b, good) {
			t.Fatalf("an unsealed payload verified: % x -> %+v", b, c)
		}
	})
}
