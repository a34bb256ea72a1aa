package packettest

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"golang.org/x/net/ipv4"
)

// TestChecksum checks the sum against published examples.
func TestChecksum(t *testing.T) {
	hdr := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	tests := []struct {
		name  string
		parts [][]byte
		want  uint16
	}{
		// RFC 1071 section 3: the bytes sum to 0xddf2.
		{"RFC 1071 example", [][]byte{{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}}, ^uint16(0xddf2)},
		{"RFC 1071 example split oddly", [][]byte{{0x00, 0x01, 0xf2}, {0x03, 0xf4, 0xf5, 0xf6, 0xf7}}, ^uint16(0xddf2)},
		// The IPv4 header of Wikipedia's "Internet checksum" article.
		{"IPv4 header", [][]byte{hdr}, 0xb861},
		{"odd length", [][]byte{{0x01}}, ^uint16(0x0100)},
		{"empty", nil, 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checksum(tt.parts...); got != tt.want {
				t.Errorf("Checksum = %#04x, want %#04x", got, tt.want)
			}
		})
	}
}

// TestKnock builds every kind of knock packet and checks its header
// fields and that every checksum verifies.
func TestKnock(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.1")
	src6, dst6 := netip.MustParseAddr("2001:2::2"), netip.MustParseAddr("2001:2::1")
	type fields struct {
		Len, Proto, Port int
		Type             byte // ICMP type; TCP flags
	}
	tests := []struct {
		name     string
		src, dst netip.Addr
		k        derive.Knock
		want     fields
	}{
		{"v4 tcp", src4, dst4, derive.Knock{Proto: derive.TCP, Port: 23456}, fields{40, ProtoTCP, 23456, FlagSYN}},
		{"v4 udp", src4, dst4, derive.Knock{Proto: derive.UDP, Port: 40123}, fields{28, ProtoUDP, 40123, 0}},
		{"v4 icmp", src4, dst4, derive.Knock{Proto: derive.ICMP, Port: 31337}, fields{28, ProtoICMP, 31337, 8}},
		{"v6 tcp", src6, dst6, derive.Knock{Proto: derive.TCP, Port: 23456}, fields{60, ProtoTCP, 23456, FlagSYN}},
		{"v6 udp", src6, dst6, derive.Knock{Proto: derive.UDP, Port: 40123}, fields{48, ProtoUDP, 40123, 0}},
		{"v6 icmp", src6, dst6, derive.Knock{Proto: derive.ICMP, Port: 31337}, fields{48, ProtoICMPv6, 31337, 128}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Knock(tt.src, tt.dst, tt.k)
			var got fields
			var l4 []byte
			if tt.src.Is4() {
				h, err := ipv4.ParseHeader(b)
				if err != nil {
					t.Fatal(err)
				}
				if h.Src.String() != tt.src.String() || h.Dst.String() != tt.dst.String() || h.TTL != 64 {
					t.Errorf("header %v", h)
				}
				if c := Checksum(b[:20]); c != 0 {
					t.Errorf("IPv4 header checksum does not verify (residue %#04x)", c)
				}
				got.Len, got.Proto, l4 = h.TotalLen, h.Protocol, b[h.Len:]
			} else {
				if b[0]>>4 != 6 || netip.AddrFrom16([16]byte(b[8:24])) != tt.src || netip.AddrFrom16([16]byte(b[24:40])) != tt.dst {
					t.Errorf("header % x", b[:40])
				}
				got.Len, got.Proto, l4 = 40+int(binary.BigEndian.Uint16(b[4:])), int(b[6]), b[40:]
			}
			switch got.Proto {
			case ProtoTCP:
				got.Port, got.Type = int(binary.BigEndian.Uint16(l4[2:])), l4[13]
			case ProtoUDP:
				got.Port = int(binary.BigEndian.Uint16(l4[2:]))
			default:
				got.Port, got.Type = int(binary.BigEndian.Uint16(l4[6:])), l4[0]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			var pseudo []byte
			if got.Proto != ProtoICMP {
				pseudo = PseudoHeader(tt.src, tt.dst, byte(got.Proto), len(l4))
			}
			if c := Checksum(pseudo, l4); c != 0 {
				t.Errorf("transport checksum does not verify (residue %#04x)", c)
			}
		})
	}
}

// TestTruncatedAndFragments leaves checksums of incomplete transport
// headers and later fragments alone.
func TestTruncatedAndFragments(t *testing.T) {
	src, dst := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.1")
	short := V4{Src: src, Dst: dst, Proto: ProtoTCP}.Packet(TCP(1, 2, FlagSYN)[:13])
	if len(short) != 33 || Checksum(short[:20]) != 0 {
		t.Errorf("truncated TCP: % x", short)
	}
	later := V4{Src: src, Dst: dst, Proto: ProtoUDP, Frag: 3}.Packet(UDP(1, 2, nil))
	if later[26] != 0 || later[27] != 0 {
		t.Errorf("a later fragment's UDP checksum was set: % x", later[20:])
	}
	opts := V4{Src: src, Dst: dst, Proto: ProtoUDP, Options: []byte{1, 1, 1, 0}}.Packet(UDP(1, 2, nil))
	if opts[0] != 0x46 || Checksum(opts[:24]) != 0 || Checksum(PseudoHeader(src, dst, ProtoUDP, 8), opts[24:]) != 0 {
		t.Errorf("with options: % x", opts)
	}
	if f := Fragment6(17, 100, true); f[0] != 17 || binary.BigEndian.Uint16(f[2:]) != 100<<3|1 {
		t.Errorf("fragment header % x", f)
	}
	if e := Ext(60, 16); len(e) != 16 || e[0] != 60 || e[1] != 1 {
		t.Errorf("extension header % x", e)
	}
}
