package sender

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
)

// synSegment builds a TCP SYN segment (header with an MSS option, no
// payload) from src to dst:port with a random source port and sequence
// number, checksummed over the IPv4 or IPv6 pseudo-header.
func synSegment(src, dst netip.Addr, port uint16) []byte {
	var r [6]byte
	rand.Read(r[:])
	seg := make([]byte, 24)
	binary.BigEndian.PutUint16(seg[0:], 32768+binary.BigEndian.Uint16(r[0:])%28232) // Linux's ephemeral range
	binary.BigEndian.PutUint16(seg[2:], port)
	copy(seg[4:8], r[2:6]) // sequence number
	seg[12] = 6 << 4       // data offset: 6 words
	seg[13] = 0x02         // SYN
	binary.BigEndian.PutUint16(seg[14:], 64240)
	copy(seg[20:], []byte{2, 4, 0x05, 0xb4}) // MSS 1460
	binary.BigEndian.PutUint16(seg[16:], tcpChecksum(src, dst, seg))
	return seg
}

// tcpChecksum is the Internet checksum (RFC 1071) of the pseudo-header
// (RFC 793, RFC 8200 section 8.1) and the segment.
func tcpChecksum(src, dst netip.Addr, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	var tail [4]byte
	binary.BigEndian.PutUint16(tail[0:], 6) // protocol; upper-layer length follows
	binary.BigEndian.PutUint16(tail[2:], uint16(len(seg)))
	add(tail[:])
	add(seg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
