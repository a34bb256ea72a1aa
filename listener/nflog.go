package listener

import (
	"encoding/binary"
	"errors"
)

// NFLOG constants from the kernel's uapi headers
// (linux/netfilter/nfnetlink.h, linux/netfilter/nfnetlink_log.h).
const (
	nfnlSubsysULOG = 4

	nfulnlMsgPacket = 0
	nfulnlMsgConfig = 1

	nfulaPacketHdr = 1
	nfulaTimestamp = 3
	nfulaPayload   = 9
	nfulaSeq       = 12

	nfulaCfgCmd      = 1
	nfulaCfgMode     = 2
	nfulaCfgNlbufsiz = 3
	nfulaCfgTimeout  = 4
	nfulaCfgQthresh  = 5
	nfulaCfgFlags    = 6

	nfulnlCfgCmdBind   = 1
	nfulnlCfgCmdUnbind = 2

	nfulnlCopyPacket = 2
	nfulnlCfgFSeq    = 1

	nlmsgHdrLen  = 16
	nfgenmsgLen  = 4
	nlaHdrLen    = 4
	nlaTypeMask  = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmsgOverrun = 4
)

// msgPacket is the netlink message type of an NFLOG packet.
const msgPacket = nfnlSubsysULOG<<8 | nfulnlMsgPacket

// ErrMessage is returned for netlink data that does not parse.
var ErrMessage = errors.New("malformed netlink message")

// walkMessages calls fn with the type and body of each netlink message
// in b (one datagram), stopping at the first malformed header.
func walkMessages(b []byte, fn func(typ uint16, body []byte)) error {
	for len(b) >= nlmsgHdrLen {
		n := int(binary.NativeEndian.Uint32(b))
		if n < nlmsgHdrLen || n > len(b) {
			return ErrMessage
		}
		fn(binary.NativeEndian.Uint16(b[4:]), b[nlmsgHdrLen:n])
		n = align4(n)
		if n >= len(b) {
			return nil
		}
		b = b[n:]
	}
	if len(b) != 0 {
		return ErrMessage
	}
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// packetAttrs is what a packet message carries for otpknock.
type packetAttrs struct {
	family  uint8
	payload []byte
	seq     uint32
	hasSeq  bool
	sec     int64 // nfulaTimestamp: when the packet met the rule
	usec    int64
}

// parsePacket decodes the body of an nfulnlMsgPacket message: the
// nfgenmsg header, then attributes.
func parsePacket(body []byte) (packetAttrs, error) {
	var a packetAttrs
	if len(body) < nfgenmsgLen {
		return a, ErrMessage
	}
	a.family = body[0]
	b := body[nfgenmsgLen:]
	for len(b) >= nlaHdrLen {
		n := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if n < nlaHdrLen || n > len(b) {
			return a, ErrMessage
		}
		v := b[nlaHdrLen:n]
		switch typ {
		case nfulaPayload:
			a.payload = v
		case nfulaTimestamp:
			if len(v) != 16 {
				return a, ErrMessage
			}
			a.sec, a.usec = int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))
		case nfulaSeq:
			if len(v) != 4 {
				return a, ErrMessage
			}
			a.seq, a.hasSeq = binary.BigEndian.Uint32(v), true
		}
		n = align4(n)
		if n >= len(b) {
			break
		}
		b = b[n:]
	}
	if a.payload == nil {
		return a, ErrMessage
	}
	return a, nil
}
