package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"net/netip"
)

// Label is the version label that starts every derivation message.
const Label = "otpknock/v1"

// MinSecret is the shortest secret accepted, in bytes (128 bits).
const MinSecret = 16

// maxBlocks bounds the HMAC counter blocks one sequence may use. Valid
// parameters need more than one block about once in 10^4 sequences and
// more than 255 never in practice.
const maxBlocks = 255

// ErrExhausted is returned when a sequence could not be drawn within
// maxBlocks HMAC blocks; with valid parameters it does not happen.
var ErrExhausted = errors.New("derive: HMAC stream exhausted")

// Deriver computes sequences for one (secret, server identity,
// parameters). It keeps its buffers between calls, so [Deriver.Sequence]
// does not allocate. A Deriver is not safe for concurrent use; make one
// per goroutine.
type Deriver struct {
	mac     hash.Hash
	msg     []byte // message with counter, step and source patched in place
	srcOff  int    // offset of the source field
	stepOff int    // offset of the step
	sum     []byte
	protos  []Proto
	excl    []uint16
	lo      uint16
	values  uint32 // usable values per protocol
	n       uint32 // element count
	limit   uint64 // rejection bound: the largest multiple of n <= 2^32
	knocks  int
	picked  []uint32
}

// New validates its inputs and returns a Deriver. The secret must be at
// least [MinSecret] bytes; serverID 1 to 255 bytes. Its errors are
// [*FieldError]s.
func New(secret []byte, serverID string, p Params) (*Deriver, error) {
	if err := checkKey(secret, serverID); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return newDeriver(secret, serverID, p, Label, p.Protocols.List(), p.Knocks), nil
}

// checkKey validates the secret and the server identity.
func checkKey(secret []byte, serverID string) error {
	if len(secret) < MinSecret {
		return fieldError(FieldSecret, "%d bytes, need at least %d (128 bits)", len(secret), MinSecret)
	}
	if len(serverID) == 0 || len(serverID) > 255 {
		return fieldError(FieldServerID, "must be 1 to 255 bytes, got %d", len(serverID))
	}
	return nil
}

// newDeriver builds a Deriver whose messages start with label and which
// draws knocks distinct elements over protos; p is encoded as given.
func newDeriver(secret []byte, serverID string, p Params, label string, protos []Proto, knocks int) *Deriver {
	d := &Deriver{
		mac:    hmac.New(sha256.New, secret),
		sum:    make([]byte, 0, sha256.Size),
		protos: protos,
		excl:   p.excluded(),
		lo:     p.PortMin,
		values: p.values(),
		knocks: knocks,
		picked: make([]uint32, 0, MaxKnocks),
	}
	d.n = uint32(len(d.protos)) * d.values
	d.limit = (1 << 32) / uint64(d.n) * uint64(d.n)
	d.msg, d.srcOff = encodePrefix(label, serverID, p, d.excl)
	d.stepOff = stepOffset(label)
	return d
}

// encodePrefix builds the message up to (not including) the source
// field, with zeroed counter and step, and room for the longest source.
func encodePrefix(label, serverID string, p Params, excl []uint16) ([]byte, int) {
	params := encodeParams(p, excl)
	msg := make([]byte, 0, 4+2+len(label)+8+2+len(serverID)+2+len(params)+2+16)
	msg = binary.BigEndian.AppendUint32(msg, 0) // counter
	msg = appendLP(msg, []byte(label))
	msg = binary.BigEndian.AppendUint64(msg, 0) // step
	msg = appendLP(msg, []byte(serverID))
	msg = appendLP(msg, params)
	return msg, len(msg)
}

// encodeParams is the params field of every message: period, knocks,
// protocols, range and the canonical excluded ports.
func encodeParams(p Params, excl []uint16) []byte {
	params := make([]byte, 0, 12+2*len(excl))
	params = binary.BigEndian.AppendUint32(params, uint32(p.Period.Seconds()))
	params = append(params, byte(p.Knocks), byte(p.Protocols))
	params = binary.BigEndian.AppendUint16(params, p.PortMin)
	params = binary.BigEndian.AppendUint16(params, p.PortMax)
	params = binary.BigEndian.AppendUint16(params, uint16(len(excl)))
	for _, e := range excl {
		params = binary.BigEndian.AppendUint16(params, e)
	}
	return params
}

// stepOffset is the offset of the step in a message that starts with
// label: after the counter and the length-prefixed label.
func stepOffset(label string) int { return 4 + 2 + len(label) }

func appendLP(b, field []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(field)))
	return append(b, field...)
}

// Message returns the derivation message for counter block i (from 1),
// step and source: the exact bytes given to HMAC-SHA256. It is meant for
// vectors and debugging; Sequence does not call it.
func (d *Deriver) Message(i uint32, step uint64, src netip.Addr) []byte {
	d.setMessage(step, src)
	binary.BigEndian.PutUint32(d.msg, i)
	return append([]byte(nil), d.msg...)
}

func (d *Deriver) setMessage(step uint64, src netip.Addr) {
	binary.BigEndian.PutUint64(d.msg[d.stepOff:], step)
	d.msg = d.msg[:d.srcOff]
	switch {
	case !src.IsValid():
		d.msg = binary.BigEndian.AppendUint16(d.msg, 0)
	case src.Unmap().Is4():
		a := src.Unmap().As4()
		d.msg = binary.BigEndian.AppendUint16(d.msg, 4)
		d.msg = append(d.msg, a[:]...)
	default:
		a := src.As16()
		d.msg = binary.BigEndian.AppendUint16(d.msg, 16)
		d.msg = append(d.msg, a[:]...)
	}
}

// Sequence appends the sequence for step to dst[:0] and returns it. src
// is the client's address for source-bound users and the zero Addr
// otherwise; IPv4-mapped IPv6 addresses count as IPv4 and zones are
// ignored.
func (d *Deriver) Sequence(dst []Knock, step uint64, src netip.Addr) ([]Knock, error) {
	d.setMessage(step, src)
	d.picked = d.picked[:0]
	for i := uint32(1); i <= maxBlocks; i++ {
		binary.BigEndian.PutUint32(d.msg, i)
		d.mac.Reset()
		d.mac.Write(d.msg)
		d.sum = d.mac.Sum(d.sum[:0])
		for w := 0; w+4 <= len(d.sum); w += 4 {
			if d.take(binary.BigEndian.Uint32(d.sum[w:])) {
				return d.knocksTo(dst[:0]), nil
			}
		}
	}
	return dst[:0], ErrExhausted
}

// take applies rejection sampling to one 32-bit draw and reports whether
// the sequence is complete.
func (d *Deriver) take(x uint32) bool {
	if uint64(x) >= d.limit {
		return false
	}
	e := x % d.n
	for _, p := range d.picked {
		if p == e {
			return false
		}
	}
	d.picked = append(d.picked, e)
	return len(d.picked) == d.knocks
}

func (d *Deriver) knocksTo(dst []Knock) []Knock {
	for _, e := range d.picked {
		dst = append(dst, d.element(e))
	}
	return dst
}

// element maps an element index to its knock: protocol e / values, and
// the (e mod values)-th usable value of the range in ascending order.
func (d *Deriver) element(e uint32) Knock {
	v := uint32(d.lo) + e%d.values
	for _, x := range d.excl {
		if uint32(x) > v {
			break
		}
		v++
	}
	return Knock{Proto: d.protos[e/d.values], Port: uint16(v)}
}

// Sequence is the one-shot form of [Deriver.Sequence].
func Sequence(secret []byte, serverID string, p Params, step uint64, src netip.Addr) ([]Knock, error) {
	d, err := New(secret, serverID, p)
	if err != nil {
		return nil, err
	}
	return d.Sequence(nil, step, src)
}
