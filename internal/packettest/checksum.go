package packettest

import (
	"encoding/binary"
	"net/netip"
)

// Checksum is the Internet checksum (RFC 1071) of the concatenated
// parts. Over data whose checksum field is filled in, it is 0.
func Checksum(parts ...[]byte) uint16 {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// PseudoHeader is the pseudo-header a TCP, UDP or ICMPv6 checksum
// covers: addresses, protocol and the upper-layer length, laid out for
// IPv4 (RFC 793) or IPv6 (RFC 8200 section 8.1) by src's family.
func PseudoHeader(src, dst netip.Addr, proto byte, length int) []byte {
	b := append(src.AsSlice(), dst.AsSlice()...)
	if src.Is4() {
		b = append(b, 0, proto)
		return binary.BigEndian.AppendUint16(b, uint16(length))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	return append(b, 0, 0, 0, proto)
}

// setChecksum fills in the checksum of a complete TCP, UDP, ICMP or
// ICMPv6 header at the start of l4; a truncated one is left as it is.
func setChecksum(src, dst netip.Addr, proto byte, l4 []byte) {
	var at int
	var pseudo []byte
	switch {
	case proto == ProtoTCP && len(l4) >= 20:
		at, pseudo = 16, PseudoHeader(src, dst, proto, len(l4))
	case proto == ProtoUDP && len(l4) >= 8:
		at, pseudo = 6, PseudoHeader(src, dst, proto, len(l4))
	case proto == ProtoICMP && len(l4) >= 4:
		at = 2
	case proto == ProtoICMPv6 && len(l4) >= 4:
		at, pseudo = 2, PseudoHeader(src, dst, proto, len(l4))
	default:
		return
	}
	l4[at], l4[at+1] = 0, 0
	c := Checksum(pseudo, l4)
	if c == 0 && proto == ProtoUDP {
		c = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[at:], c)
}
