package listener

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/packettest"
)

var (
	src4 = netip.MustParseAddr("198.18.0.2")
	dst4 = netip.MustParseAddr("198.18.0.1")
	src6 = netip.MustParseAddr("2001:2::2")
	dst6 = netip.MustParseAddr("2001:2::1")
)

// The tests' packets come from packettest, from source port 40000 and
// between the addresses above.
func tcp(port uint16, flags byte) []byte { return packettest.TCP(40000, port, flags) }
func udp(port uint16) []byte             { return packettest.UDP(40000, port, nil) }
func echo(typ byte, seq uint16) []byte   { return packettest.Echo(typ, seq) }

// ip4 is an IPv4 packet with optWords of options and a fragment field.
func ip4(proto byte, optWords int, frag uint16, l4 []byte) []byte {
	return packettest.V4{Src: src4, Dst: dst4, Proto: proto, Options: make([]byte, 4*optWords), Frag: frag}.Packet(l4)
}

// ip6 is an IPv6 packet with extension headers, then l4.
func ip6(next byte, exts [][]byte, l4 []byte) []byte {
	var payload []byte
	for _, e := range exts {
		payload = append(payload, e...)
	}
	return packettest.V6{Src: src6, Dst: dst6, Next: next}.Packet(append(payload, l4...))
}

func TestDecode(t *testing.T) {
	k := func(p derive.Proto, v uint16) derive.Knock { return derive.Knock{Proto: p, Port: v} }
	tests := []struct {
		name string
		pkt  []byte
		src  netip.Addr
		want derive.Knock
		err  error
	}{
		{"v4 tcp syn", ip4(6, 0, 0, tcp(23456, 0x02)), src4, k(derive.TCP, 23456), nil},
		{"v4 tcp syn with ECN bits", ip4(6, 0, 0, tcp(23456, 0xc2)), src4, k(derive.TCP, 23456), nil},
		{"v4 ip options", ip4(6, 3, 0, tcp(23456, 0x02)), src4, k(derive.TCP, 23456), nil},
		{"v4 dont-fragment flag", ip4(17, 0, 0x4000, udp(40123)), src4, k(derive.UDP, 40123), nil},
		{"v4 first fragment", ip4(17, 0, 0x2000, udp(40123)), src4, k(derive.UDP, 40123), nil},
		{"v4 udp", ip4(17, 0, 0, udp(40123)), src4, k(derive.UDP, 40123), nil},
		{"v4 echo", ip4(1, 0, 0, echo(8, 31337)), src4, k(derive.ICMP, 31337), nil},
		{"v6 tcp syn", ip6(6, nil, tcp(20001, 0x02)), src6, k(derive.TCP, 20001), nil},
		{"v6 udp", ip6(17, nil, udp(59999)), src6, k(derive.UDP, 59999), nil},
		{"v6 echo", ip6(58, nil, echo(128, 4242)), src6, k(derive.ICMP, 4242), nil},
		{"v6 ext chain", ip6(0, [][]byte{packettest.Ext(60, 8), packettest.Ext(43, 16), packettest.Ext(44, 24), packettest.Fragment6(17, 0, false)}, udp(30000)), src6, k(derive.UDP, 30000), nil},
		{"v6 non-first fragment", ip6(44, [][]byte{packettest.Fragment6(17, 100, false)}, udp(30000)), src6, derive.Knock{}, ErrFragment},
		{"v4 non-first fragment", ip4(17, 0, 0x0010, udp(40123)), src4, derive.Knock{}, ErrFragment},
		{"v6 esp", ip6(50, nil, udp(30000)), src6, derive.Knock{}, ErrExtChain},
		{"v6 endless chain", ip6(60, [][]byte{packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8), packettest.Ext(60, 8)}, udp(1)), src6, derive.Knock{}, ErrExtChain},
		{"v6 ext truncated", ip6(0, [][]byte{packettest.Ext(17, 16)[:12]}, nil), src6, derive.Knock{}, ErrTruncated},
		{"syn-ack", ip4(6, 0, 0, tcp(23456, 0x12)), src4, derive.Knock{}, ErrNotKnock},
		{"rst", ip4(6, 0, 0, tcp(23456, 0x04)), src4, derive.Knock{}, ErrNotKnock},
		{"syn-fin", ip4(6, 0, 0, tcp(23456, 0x03)), src4, derive.Knock{}, ErrNotKnock},
		{"echo reply", ip4(1, 0, 0, echo(0, 1)), src4, derive.Knock{}, ErrNotKnock},
		{"v4 icmpv6 type in icmp", ip4(1, 0, 0, echo(128, 1)), src4, derive.Knock{}, ErrNotKnock},
		{"v6 echo reply", ip6(58, nil, echo(129, 1)), src6, derive.Knock{}, ErrNotKnock},
		{"port 0", ip4(17, 0, 0, udp(0)), src4, derive.Knock{}, ErrNotKnock},
		{"gre", ip4(47, 0, 0, udp(1)), src4, derive.Knock{}, ErrNotKnock},
		{"empty", nil, netip.Addr{}, derive.Knock{}, ErrTruncated},
		{"version 5", []byte{0x50, 0, 0, 0}, netip.Addr{}, derive.Knock{}, ErrVersion},
		{"v4 short header", ip4(6, 0, 0, nil)[:19], netip.Addr{}, derive.Knock{}, ErrTruncated},
		{"v4 ihl beyond data", ip4(6, 0, 0, nil)[:20:20], netip.Addr{}, derive.Knock{}, ErrTruncated},
		{"v4 bad ihl", append([]byte{0x44}, make([]byte, 39)...), netip.Addr{}, derive.Knock{}, ErrTruncated},
		{"v4 tcp truncated", ip4(6, 0, 0, tcp(1, 2)[:13]), src4, derive.Knock{}, ErrTruncated},
		{"v6 short", ip6(6, nil, nil)[:39], netip.Addr{}, derive.Knock{}, ErrTruncated},
		{"v6 echo truncated", ip6(58, nil, echo(128, 1)[:7]), src6, derive.Knock{}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// "v4 ihl beyond data" keeps an IHL of 5 but claims options.
			pkt := tt.pkt
			if tt.name == "v4 ihl beyond data" {
				pkt[0] = 0x46
			}
			got, err := Decode(pkt)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && (got.Src != tt.src || got.Knock != tt.want) {
				t.Errorf("Decode = %v %v, want %v %v", got.Src, got.Knock, tt.src, tt.want)
			}
		})
	}
}

// FuzzDecode checks what Decode accepts: a valid source, a knock, and a
// payload only on UDP and echo knocks, inside the input (never a copy),
// never with Truncated set, and no longer than the input past the
// smallest headers.
func FuzzDecode(f *testing.F) {
	f.Add(ip4(6, 0, 0, tcp(23456, 0x02)))
	f.Add(ip4(1, 2, 0, echo(8, 1)))
	f.Add(ip6(0, [][]byte{packettest.Ext(44, 8), packettest.Fragment6(58, 0, false)}, echo(128, 7)))
	f.Add(ip6(51, [][]byte{{17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, udp(9)))
	f.Add(ip4(17, 0, 0, udpWith(40123, data(64))))
	f.Add(ip4(17, 0, 0, udpWith(40123, data(64)))[:60])
	f.Add(ip6(58, nil, echoWith(128, 4242, data(derive.MaxPayload))))
	f.Add(append(ip6(17, nil, udpWith(59999, data(33))), 0xee))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		if !p.Src.IsValid() || p.Knock.Port == 0 || (p.Knock.Proto != derive.TCP && p.Knock.Proto != derive.UDP && p.Knock.Proto != derive.ICMP) {
			t.Fatalf("Decode accepted %x as %+v", b, p)
		}
		if p.Payload != nil && (p.Knock.Proto == derive.TCP || p.Truncated) {
			t.Fatalf("Decode gave %x a payload %x with %v, truncated %v", b, p.Payload, p.Knock, p.Truncated)
		}
		if p.Truncated && p.Knock.Proto == derive.TCP {
			t.Fatalf("Decode marked the TCP knock %x truncated", b)
		}
		if (len(p.Payload) > 0 && len(p.Payload) > len(b)-28) || !aliases(b, p.Payload) {
			t.Fatalf("Decode's payload %x is not inside %x past the headers", p.Payload, b)
		}
	})
}

// TestDecodeEveryProtocol checks that every carrier of the protocol
// table has a decoder: its knock, sent over each family, decodes to the
// same knock, and a payload comes back only where the table says the
// carrier has one.
func TestDecodeEveryProtocol(t *testing.T) {
	for _, r := range derive.ProtoTable() {
		for _, fam := range []struct {
			name     string
			src, dst netip.Addr
		}{{"ipv4", src4, dst4}, {"ipv6", src6, dst6}} {
			t.Run(r.Name+"/"+fam.name, func(t *testing.T) {
				k := derive.Knock{Proto: r.Proto, Port: 43210}
				p, err := Decode(packettest.Knock(fam.src, fam.dst, k))
				if err != nil || p.Knock != k || p.Src != fam.src {
					t.Fatalf("Decode = %v from %v, %v; want %v from %v", p.Knock, p.Src, err, k, fam.src)
				}
				if (p.Payload != nil) != r.Payload {
					t.Errorf("payload %q, want one: %v", p.Payload, r.Payload)
				}
			})
		}
	}
}
