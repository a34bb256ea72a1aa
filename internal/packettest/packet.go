package packettest

import (
	"encoding/binary"
	"net/netip"

	"github.com/otpknock/otpknock/derive"
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// TCP flags.
const (
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagACK = 0x10
)

// TCP is a 20-byte TCP header from srcPort to dstPort with flags and a
// window of 64240; V4 and V6 fill in its checksum.
func TCP(srcPort, dstPort uint16, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], srcPort)
	binary.BigEndian.PutUint16(b[2:], dstPort)
	b[12], b[13] = 5<<4, flags
	binary.BigEndian.PutUint16(b[14:], 64240)
	return b
}

// UDP is a UDP header from srcPort to dstPort followed by payload.
func UDP(srcPort, dstPort uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], srcPort)
	binary.BigEndian.PutUint16(b[2:], dstPort)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// Echo is an ICMP or ICMPv6 echo header of type typ (8 or 128 for a
// request) with identifier 0 and sequence number seq.
func Echo(typ byte, seq uint16) []byte {
	b := make([]byte, 8)
	b[0] = typ
	binary.BigEndian.PutUint16(b[6:], seq)
	return b
}

// V4 is an IPv4 header.
type V4 struct {
	Src, Dst netip.Addr
	Proto    byte
	Options  []byte // a multiple of 4 bytes
	Frag     uint16 // the flags and fragment offset field
}

// Packet is the header followed by l4, with total length, TTL 64 and
// header checksum set, and l4's checksum filled in when it is a complete
// TCP, UDP or ICMP header of a packet that is not a later fragment.
func (h V4) Packet(l4 []byte) []byte {
	ihl := 20 + len(h.Options)
	b := make([]byte, ihl, ihl+len(l4))
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(ihl+len(l4)))
	binary.BigEndian.PutUint16(b[6:], h.Frag)
	b[8], b[9] = 64, h.Proto
	copy(b[12:], h.Src.AsSlice())
	copy(b[16:], h.Dst.AsSlice())
	copy(b[20:], h.Options)
	binary.BigEndian.PutUint16(b[10:], Checksum(b))
	b = append(b, l4...)
	if h.Frag&0x1fff == 0 {
		setChecksum(h.Src, h.Dst, h.Proto, b[ihl:])
	}
	return b
}

// V6 is an IPv6 header.
type V6 struct {
	Src, Dst netip.Addr
	Next     byte // the first next-header value
}

// Packet is the header followed by payload (extension headers, then the
// transport header), with payload length and hop limit 64 set, and the
// transport checksum filled in when Next is TCP, UDP or ICMPv6.
func (h V6) Packet(payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6], b[7] = h.Next, 64
	copy(b[8:], h.Src.AsSlice())
	copy(b[24:], h.Dst.AsSlice())
	b = append(b, payload...)
	setChecksum(h.Src, h.Dst, h.Next, b[40:])
	return b
}

// Ext is a hop-by-hop, routing or destination options header of n bytes
// (a multiple of 8) padded with Pad1 options, followed by next.
func Ext(next byte, n int) []byte {
	e := make([]byte, n)
	e[0], e[1] = next, byte(n/8-1)
	return e
}

// Fragment6 is an IPv6 fragment header at offset (in 8-byte units),
// with the more-fragments flag set or not, followed by next.
func Fragment6(next byte, offset uint16, more bool) []byte {
	e := make([]byte, 8)
	e[0] = next
	f := offset << 3
	if more {
		f |= 1
	}
	binary.BigEndian.PutUint16(e[2:], f)
	return e
}

// Knock is the packet carrying knock k from src to dst, by src's family:
// a TCP SYN, a UDP datagram or an ICMP/ICMPv6 echo request whose sequence
// number is the knock's, from source port 40000 + port % 20000.
func Knock(src, dst netip.Addr, k derive.Knock) []byte {
	sport := 40000 + k.Port%20000
	var proto byte
	var l4 []byte
	switch k.Proto {
	case derive.TCP:
		proto, l4 = ProtoTCP, TCP(sport, k.Port, FlagSYN)
	case derive.UDP:
		proto, l4 = ProtoUDP, UDP(sport, k.Port, nil)
	case derive.ICMP:
		proto, l4 = ProtoICMP, Echo(8, k.Port)
		if !src.Is4() {
			proto, l4 = ProtoICMPv6, Echo(128, k.Port)
		}
	}
	if src.Is4() {
		return V4{Src: src, Dst: dst, Proto: proto}.Packet(l4)
	}
	return V6{Src: src, Dst: dst, Next: proto}.Packet(l4)
}
