package listener

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Packet is one logged packet that may be a knock.
type Packet struct {
	Src   netip.Addr
	Knock derive.Knock
	At    time.Time // when the kernel logged it; zero when unknown
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
// echo request.
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
	src := netip.AddrFrom4([4]byte(b[12:16]))
	return l4(src, b[9], b[ihl:], false)
}

func decode6(b []byte) (Packet, error) {
	if len(b) < 40 {
		return Packet{}, ErrTruncated
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
		case 6, 17, 58:
			return l4(src, next, rest, true)
		default:
			return Packet{}, ErrExtChain
		}
		if len(rest) < n {
			return Packet{}, ErrTruncated
		}
		next, rest = rest[0], rest[n:]
	}
}

// l4 decodes the transport header of protocol proto.
func l4(src netip.Addr, proto byte, b []byte, v6 bool) (Packet, error) {
	p := Packet{Src: src}
	switch proto {
	case 6: // TCP: a SYN without ACK, RST or FIN
		if len(b) < 14 {
			return Packet{}, ErrTruncated
		}
		if b[13]&0x17 != 0x02 {
			return Packet{}, ErrNotKnock
		}
		p.Knock = derive.Knock{Proto: derive.TCP, Port: binary.BigEndian.Uint16(b[2:])}
	case 17:
		if len(b) < 4 {
			return Packet{}, ErrTruncated
		}
		p.Knock = derive.Knock{Proto: derive.UDP, Port: binary.BigEndian.Uint16(b[2:])}
	case 1, 58: // ICMP echo request (type 8) or ICMPv6 (type 128), code 0
		if len(b) < 8 {
			return Packet{}, ErrTruncated
		}
		want := byte(8)
		if v6 {
			want = 128
		}
		if (proto == 58) != v6 || b[0] != want || b[1] != 0 {
			return Packet{}, ErrNotKnock
		}
		p.Knock = derive.Knock{Proto: derive.ICMP, Port: binary.BigEndian.Uint16(b[6:])}
	default:
		return Packet{}, ErrNotKnock
	}
	if p.Knock.Port == 0 {
		return Packet{}, ErrNotKnock
	}
	return p, nil
}
