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

// BoundLabel starts the messages of the stream that draws knocks 2 to
// knocks of a source-bound user's sequence (docs/spec.md section 6.1):
// the first knock comes from the unbound stream, so it does not depend on
// the source and a server can index it ahead of any packet.
const BoundLabel = "otpknock/v1/bound"

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
	msg     []byte // message with counter and step patched in place; empty source
	stepOff int    // offset of the step
	bmsg    []byte // the bound stream's message: counter, step and source patched in place; nil if none
	bsrcOff int    // offset of its source field
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
	d := newDeriver(secret, serverID, p, Label, p.Protocols.List(), p.Knocks)
	d.bmsg, d.bsrcOff = encodePrefix(BoundLabel, serverID, p, d.excl)
	return d, nil
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
	var off int
	d.msg, off = encodePrefix(label, serverID, p, d.excl)
	d.msg = binary.BigEndian.AppendUint16(d.msg[:off], 0) // the empty source
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

// Message returns the message of counter block i (from 1) and step: the
// exact bytes given to HMAC-SHA256. With the zero src it is M(i), the
// unbound stream's (whose first knock every sequence starts with); with
// an address it is the bound stream's BM(i) for that source (spec
// section 6.1). It is meant for vectors and debugging; Sequence does not
// call it.
func (d *Deriver) Message(i uint32, step uint64, src netip.Addr) []byte {
	msg := d.msg
	binary.BigEndian.PutUint64(msg[d.stepOff:], step)
	if src.IsValid() && d.bmsg != nil {
		d.setBound(step, src)
		msg = d.bmsg
	}
	binary.BigEndian.PutUint32(msg, i)
	return append([]byte(nil), msg...)
}

// setBound writes step and src into the bound stream's message.
func (d *Deriver) setBound(step uint64, src netip.Addr) {
	binary.BigEndian.PutUint64(d.bmsg[stepOffset(BoundLabel):], step)
	d.bmsg = d.bmsg[:d.bsrcOff]
	switch src = src.Unmap(); {
	case src.Is4():
		a := src.As4()
		d.bmsg = binary.BigEndian.AppendUint16(d.bmsg, 4)
		d.bmsg = append(d.bmsg, a[:]...)
	default:
		a := src.As16()
		d.bmsg = binary.BigEndian.AppendUint16(d.bmsg, 16)
		d.bmsg = append(d.bmsg, a[:]...)
	}
}

// Sequence appends the sequence for step to dst[:0] and returns it. src
// is the client's address for source-bound users and the zero Addr
// otherwise; IPv4-mapped IPv6 addresses count as IPv4 and zones are
// ignored. A source-bound sequence starts with the first knock of the
// unbound one; its other knocks come from the bound stream, which
// includes src (spec section 6.1).
func (d *Deriver) Sequence(dst []Knock, step uint64, src netip.Addr) ([]Knock, error) {
	d.picked = d.picked[:0]
	bound := src.IsValid() && d.bmsg != nil
	want := d.knocks
	if bound {
		want = 1
	}
	binary.BigEndian.PutUint64(d.msg[d.stepOff:], step)
	if !d.draw(d.msg, want) {
		return dst[:0], ErrExhausted
	}
	if bound {
		d.setBound(step, src)
		if !d.draw(d.bmsg, d.knocks) {
			return dst[:0], ErrExhausted
		}
	}
	return d.knocksTo(dst[:0]), nil
}

// First returns the first knock of step's sequence: the same for every
// source, so a server can index it before a packet arrives.
func (d *Deriver) First(step uint64) (Knock, error) {
	d.picked = d.picked[:0]
	binary.BigEndian.PutUint64(d.msg[d.stepOff:], step)
	if !d.draw(d.msg, 1) {
		return Knock{}, ErrExhausted
	}
	return d.element(d.picked[0]), nil
}

// draw runs the stream of msg (its counter patched to 1, 2, ...) through
// rejection sampling until d.picked holds want elements, and reports
// whether it did within maxBlocks blocks.
func (d *Deriver) draw(msg []byte, want int) bool {
	for i := uint32(1); i <= maxBlocks; i++ {
		binary.BigEndian.PutUint32(msg, i)
		d.mac.Reset()
		d.mac.Write(msg)
		d.sum = d.mac.Sum(d.sum[:0])
		for w := 0; w+4 <= len(d.sum); w += 4 {
			if d.take(binary.BigEndian.Uint32(d.sum[w:]), want) {
				return true
			}
		}
	}
	return false
}

// take applies rejection sampling to one 32-bit draw and reports whether
// d.picked holds want elements.
func (d *Deriver) take(x uint32, want int) bool {
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
	return len(d.picked) == want
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
