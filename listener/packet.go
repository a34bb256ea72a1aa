package listener

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Packet is one logged packet that may be a knock.
//
// Payload is the UDP payload or the ICMP/ICMPv6 echo data of a packet
// knock (docs/spec.md section 11.4), nil for TCP. It is a sub-slice of
// the buffer the packet was decoded from: valid only until the callback
// it was passed to returns. It is set only when the whole payload was
// captured: when the kernel's copy range cut the packet short (the IP
// header's length says more bytes than were logged), Payload is nil and
// Truncated is set, so a cut payload can never be checked as a short
// one.
type Packet struct {
	Src       netip.Addr
	Knock     derive.Knock
	Payload   []byte
	Truncated bool      // the capture ended before the payload did
	At        time.Time // when the kernel logged it; zero when unknown
}

// Decoding errors; each is a reason a packet is counted as malformed or
// ignored.
var (
	ErrTruncated = errors.New("truncated packet")
	ErrVersion   = errors.New("not IPv4 or IPv6")
	ErrFragment  = errors.New("non-first fragment")
	ErrNotKnock  = errors.New("not a knock (protocol, flags or ICMP type)")
	ErrExtChain  = errors.New("IPv6 extension header chain too long or unsupported")
)

// maxExtHeaders bounds the IPv6 extension headers walked.
const maxExtHeaders = 8

// Decode parses an IPv4 or IPv6 packet (starting at the IP header) into
// a knock: a TCP SYN (without ACK), a UDP datagram, or an ICMP/ICMPv6
// echo request, with its payload when it carries one (see [Packet]). The
// IP header's length field bounds the packet: bytes past it are
// ignored, and bytes missing before it mark the payload truncated. It
// does not allocate.
func Decode(b []byte) (Packet, error) {
	if len(b) < 1 {
		return Packet{}, ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return decode4(b)
	case 6:
		return decode6(b)
	}
	return Packet{}, ErrVersion
}

func decode4(b []byte) (Packet, error) {
	if len(b) < 20 {
		return Packet{}, ErrTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl {
		return Packet{}, ErrTruncated
	}
	if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
		return Packet{}, ErrFragment
	}
	b, cut := bound(b, int(binary.BigEndian.Uint16(b[2:])))
	if len(b) < ihl {
		return Packet{}, ErrTruncated
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	return l4(src, b[9], b[ihl:], false, cut)
}

// bound cuts b to the length n its IP header gives, and reports whether
// the capture stopped before n bytes.
func bound(b []byte, n int) ([]byte, bool) {
	if n > len(b) {
		return b, true
	}
	return b[:n], false
}

func decode6(b []byte) (Packet, error) {
	if len(b) < 40 {
		return Packet{}, ErrTruncated
	}
	// A payload length of 0 (a jumbogram) leaves the length unknown: the
	// payload counts as truncated.
	cut := true
	if plen := int(binary.BigEndian.Uint16(b[4:])); plen != 0 {
		b, cut = bound(b, 40+plen)
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	next, rest := b[6], b[40:]
	for i := 0; ; i++ {
		if i > maxExtHeaders {
			return Packet{}, ErrExtChain
		}
		var n int
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				return Packet{}, ErrTruncated
			}
			n = (int(rest[1]) + 1) * 8
		case 44: // fragment
			if len(rest) < 8 {
				return Packet{}, ErrTruncated
			}
			if binary.BigEndian.Uint16(rest[2:])&0xfff8 != 0 {
				return Packet{}, ErrFragment
			}
			n = 8
		case 51: // authentication header
			if len(rest) < 8 {
				return Packet{}, ErrTruncated
			}
			n = (int(rest[1]) + 2) * 4
		default:
			if _, ok := derive.ProtoByIP(next, true); ok {
				return l4(src, next, rest, true, cut)
			}
			return Packet{}, ErrExtChain
		}
		if len(rest) < n {
			return Packet{}, ErrTruncated
		}
		next, rest = rest[0], rest[n:]
	}
}

// l4 decodes the transport header of IP protocol proto, the carrier
// the protocol table names for it in the family; b ends where the IP
// header says the packet ends, or where the capture did (cut).
func l4(src netip.Addr, proto byte, b []byte, v6, cut bool) (Packet, error) {
	r, ok := derive.ProtoByIP(proto, v6)
	if !ok {
		return Packet{}, ErrNotKnock
	}
	p, err := decodeWire(r, b, v6, cut)
	if err != nil {
		return Packet{}, err
	}
	if p.Knock.Port == 0 {
		return Packet{}, ErrNotKnock
	}
	if p.Truncated || !r.Payload {
		p.Payload = nil
	}
	p.Src = src
	return p, nil
}

// decodeWire is the listener's wire code: the decoder of each carrier's
// header. It is the one place the listener dispatches on a protocol.
func decodeWire(r derive.ProtoInfo, b []byte, v6, cut bool) (Packet, error) {
	switch r.Proto {
	case derive.TCP:
		return decodeSYN(b)
	case derive.UDP:
		return decodeUDP(b, cut)
	case derive.ICMP:
		return decodeEcho(r.Echo(v6), b, cut)
	}
	return Packet{}, ErrNotKnock
}

// decodeSYN decodes a TCP SYN without ACK, RST or FIN.
func decodeSYN(b []byte) (Packet, error) {
	if len(b) < 14 {
		return Packet{}, ErrTruncated
	}
	if b[13]&0x17 != 0x02 {
		return Packet{}, ErrNotKnock
	}
	return Packet{Knock: derive.Knock{Proto: derive.TCP, Port: binary.BigEndian.Uint16(b[2:])}}, nil
}

// decodeUDP decodes a UDP datagram and its payload.
func decodeUDP(b []byte, cut bool) (Packet, error) {
	if len(b) < 4 {
		return Packet{}, ErrTruncated
	}
	p := Packet{Knock: derive.Knock{Proto: derive.UDP, Port: binary.BigEndian.Uint16(b[2:])}}
	p.Payload, p.Truncated = udpPayload(b, cut)
	return p, nil
}

// decodeEcho decodes an ICMP or ICMPv6 echo request (of type want, code
// 0) and its data.
func decodeEcho(want byte, b []byte, cut bool) (Packet, error) {
	if len(b) < 8 {
		return Packet{}, ErrTruncated
	}
	if b[0] != want || b[1] != 0 {
		return Packet{}, ErrNotKnock
	}
	p := Packet{Knock: derive.Knock{Proto: derive.ICMP, Port: binary.BigEndian.Uint16(b[6:])}}
	p.Payload, p.Truncated = b[8:], cut
	return p, nil
}

// udpPayload returns the payload of the UDP datagram b by its length
// field, and whether it is truncated: cut short by the capture. A length
// field that disagrees with the IP header's (shorter than the UDP
// header, or longer than the IP packet holds) leaves no payload.
func udpPayload(b []byte, cut bool) ([]byte, bool) {
	if len(b) < 8 {
		return nil, cut
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n > len(b) && cut {
		return nil, true
	}
	if n < 8 || n > len(b) {
		return nil, false
	}
	return b[8:n], false
}
