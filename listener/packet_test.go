package listener

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/otpknock/otpknock/derive"
)

var (
	src4 = netip.MustParseAddr("198.18.0.2")
	dst4 = netip.MustParseAddr("198.18.0.1")
	src6 = netip.MustParseAddr("2001:2::2")
	dst6 = netip.MustParseAddr("2001:2::1")
)

func tcp(port uint16, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], 40000)
	binary.BigEndian.PutUint16(b[2:], port)
	b[12], b[13] = 5<<4, flags
	return b
}

func udp(port uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], 40000)
	binary.BigEndian.PutUint16(b[2:], port)
	return b
}

func echo(typ byte, seq uint16) []byte {
	b := make([]byte, 8)
	b[0] = typ
	binary.BigEndian.PutUint16(b[6:], seq)
	return b
}

// ip4 builds an IPv4 header with optWords of options and a fragment
// offset field value.
func ip4(proto byte, optWords int, frag uint16, l4 []byte) []byte {
	ihl := 5 + optWords
	b := make([]byte, ihl*4, ihl*4+len(l4))
	b[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[6:], frag)
	b[9] = proto
	copy(b[12:], src4.AsSlice())
	copy(b[16:], dst4.AsSlice())
	return append(b, l4...)
}

// ip6 builds an IPv6 header followed by extension headers (next-header,
// bytes) and the transport header.
func ip6(next byte, exts [][]byte, l4 []byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	b[6] = next
	copy(b[8:], src6.AsSlice())
	copy(b[24:], dst6.AsSlice())
	for _, e := range exts {
		b = append(b, e...)
	}
	return append(b, l4...)
}

func ext(next byte, n int) []byte { // hop-by-hop, routing or dest options of n bytes
	e := make([]byte, n)
	e[0], e[1] = next, byte(n/8-1)
	return e
}

func frag6(next byte, offset uint16) []byte {
	e := make([]byte, 8)
	e[0] = next
	binary.BigEndian.PutUint16(e[2:], offset<<3)
	return e
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
		{"v6 ext chain", ip6(0, [][]byte{ext(60, 8), ext(43, 16), ext(44, 24), frag6(17, 0)}, udp(30000)), src6, k(derive.UDP, 30000), nil},
		{"v6 non-first fragment", ip6(44, [][]byte{frag6(17, 100)}, udp(30000)), src6, derive.Knock{}, ErrFragment},
		{"v4 non-first fragment", ip4(17, 0, 0x0010, udp(40123)), src4, derive.Knock{}, ErrFragment},
		{"v6 esp", ip6(50, nil, udp(30000)), src6, derive.Knock{}, ErrExtChain},
		{"v6 endless chain", ip6(60, [][]byte{ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8), ext(60, 8)}, udp(1)), src6, derive.Knock{}, ErrExtChain},
		{"v6 ext truncated", ip6(0, [][]byte{ext(17, 16)[:12]}, nil), src6, derive.Knock{}, ErrTruncated},
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

func FuzzDecode(f *testing.F) {
	f.Add(ip4(6, 0, 0, tcp(23456, 0x02)))
	f.Add(ip4(1, 2, 0, echo(8, 1)))
	f.Add(ip6(0, [][]byte{ext(44, 8), frag6(58, 0)}, echo(128, 7)))
	f.Add(ip6(51, [][]byte{{17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, udp(9)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		if !p.Src.IsValid() || p.Knock.Port == 0 || (p.Knock.Proto != derive.TCP && p.Knock.Proto != derive.UDP && p.Knock.Proto != derive.ICMP) {
			t.Fatalf("Decode accepted %x as %+v", b, p)
		}
	})
}
