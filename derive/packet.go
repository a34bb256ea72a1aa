package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"
)

// Labels of the packet mode's three messages (docs/spec.md, section
// "Packet knocks"). Each starts a message as [Label] starts a sequence's,
// so no message of one kind can be read as one of another.
const (
	PacketPortLabel = "otpknock/v1/packet-port" // the rotating element
	PacketEncLabel  = "otpknock/v1/packet-enc"  // the keystream over the claim
	PacketTagLabel  = "otpknock/v1/packet-tag"  // the MAC over the payload
)

// Sizes of a packet knock's payload: nonce || sealed claim || tag.
const (
	NonceSize     = 16                      // random bytes chosen per packet
	TagSize       = 16                      // truncated HMAC-SHA256 (128 bits)
	MinPayload    = NonceSize + 1 + TagSize // an empty claim
	MaxPayload    = 256                     // the longest payload a server reads
	MaxClaimAddrs = 4                       // addresses one claim may carry
	PayloadMin    = 131                     // senders of both modes draw a length from SizeRange: 131 is an Ed25519 knock's need for two IPv6 addresses
	PayloadMax    = 192                     // the largest length a sender draws
	maxClaimBytes = MaxPayload - NonceSize - TagSize
)

// Errors of [PacketDeriver.Open]; neither allocates.
var (
	ErrPayloadSize = errors.New("payload length out of range")
	ErrTag         = errors.New("payload tag does not verify")
	ErrClaim       = errors.New("payload claim malformed")
)

// ErrNoPacketProtocol is returned when a parameter set has no protocol
// that carries a payload ([ProtoInfo.Payload]: udp or icmp): a packet
// knock cannot travel over tcp.
var ErrNoPacketProtocol = errors.New("packet knocks need " + AllProtocols.Payload().names(" or ") + " among the protocols")

// Claim is what a packet knock asks the server to open: the addresses
// the client knows as its own (one per family, usually) and whether the
// packet's source address should be opened too, for a client behind NAT
// that cannot know the address the server sees.
type Claim struct {
	Addrs  []netip.Addr
	Source bool
}

// claim flag bits: the address count in the low three bits, then Source.
const (
	claimCount  = 0x07
	claimSource = 0x08
)

// PacketDeriver computes and checks packet knocks for one (secret, server
// identity, parameters). It keeps its buffers between calls: Knock, Seal
// into a buffer with room and Open do not allocate. It is not safe for
// concurrent use.
type PacketDeriver struct {
	port  *Deriver  // the element: one draw over udp/icmp
	mac   hash.Hash // keyed with the secret
	enc   []byte    // keystream message: counter, label, step, id, params, nonce
	tag   []byte    // tag message prefix: counter 0, label, step, id, params
	encAt int       // the step's offset in enc
	tagAt int       // the step's offset in tag
	sum   []byte
	addrs [MaxClaimAddrs]netip.Addr
	one   []Knock             // Knock's result
	small [16]byte            // the element and the source
	lp    [2]byte             // a length prefix
	plain [maxClaimBytes]byte // Open's decrypted claim
}

// NewPacket validates its inputs and returns a PacketDeriver; its errors
// are [*FieldError]s. The knock
// count of p does not matter to packet knocks; its protocols must include
// udp or icmp.
func NewPacket(secret []byte, serverID string, p Params) (*PacketDeriver, error) {
	return newPacket(secret, serverID, p, hmacLabels)
}

// packetLabels are the labels of a packet knock's element, keystream and
// tag messages: the HMAC mode's or the Ed25519 mode's.
type packetLabels struct{ port, enc, tag string }

var hmacLabels = packetLabels{PacketPortLabel, PacketEncLabel, PacketTagLabel}

// newPacket is NewPacket with the labels of a mode.
func newPacket(secret []byte, serverID string, p Params, l packetLabels) (*PacketDeriver, error) {
	if err := checkKey(secret, serverID); err != nil {
		return nil, err
	}
	protos := p.Protocols.Payload().List()
	if len(protos) == 0 {
		return nil, &FieldError{Field: FieldProtocols, Err: ErrNoPacketProtocol}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	excl := p.excluded()
	enc, _ := encodePrefix(l.enc, serverID, p, excl)
	tag, _ := encodePrefix(l.tag, serverID, p, excl)
	return &PacketDeriver{
		port:  newDeriver(secret, serverID, p, l.port, protos, 1),
		encAt: stepOffset(l.enc),
		tagAt: stepOffset(l.tag),
		mac:   hmac.New(sha256.New, secret),
		enc:   enc,
		tag:   tag,
		sum:   make([]byte, 0, sha256.Size),
		one:   make([]Knock, 0, 1),
	}, nil
}

// Knock returns the element a packet knock of step travels to: a udp port
// or an icmp echo sequence number, drawn from the range as a one-knock
// sequence with the packet-port label. It does not depend on the source.
func (pd *PacketDeriver) Knock(step uint64) (Knock, error) {
	ks, err := pd.port.Sequence(pd.one[:0], step, netip.Addr{})
	if err != nil {
		return Knock{}, err
	}
	return ks[0], nil
}

// ClaimLen returns the length of c's encoding: a flag byte, then a family
// byte (4 or 6) and the address for each address.
func ClaimLen(c Claim) int {
	n := 1
	for _, a := range c.Addrs {
		n++
		if a.Unmap().Is4() {
			n += 4
		} else {
			n += 16
		}
	}
	return n
}

// Seal appends the payload of a packet knock of step to dst: nonce, the
// claim padded with zeros to fill size bytes in all and XORed with the
// keystream, and the tag. src is the bound source for source-bound users,
// else the zero Addr. size must be from MinPayload+ClaimLen-1 to
// MaxPayload; nonce must be NonceSize fresh random bytes.
func (pd *PacketDeriver) Seal(dst []byte, step uint64, nonce []byte, c Claim, src netip.Addr, size int) ([]byte, error) {
	if len(nonce) != NonceSize {
		return dst, fmt.Errorf("nonce: %d bytes, want %d", len(nonce), NonceSize)
	}
	if err := checkClaim(c); err != nil {
		return dst, err
	}
	need := NonceSize + ClaimLen(c) + TagSize
	if size < need || size > MaxPayload {
		return dst, fmt.Errorf("payload size %d: want %d to %d for this claim", size, need, MaxPayload)
	}
	k, err := pd.Knock(step)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, nonce...)
	dst, err = appendClaim(dst, c)
	if err != nil {
		return dst[:start], err
	}
	for len(dst)-start < size-TagSize {
		dst = append(dst, 0)
	}
	body := dst[start+NonceSize:]
	pd.xorKeystream(body, step, nonce)
	pd.sumTag(step, k, nonce, body, src)
	return append(dst, pd.sum[:TagSize]...), nil
}

// appendClaim appends c's encoding: flags, then each address with its
// family byte.
func appendClaim(dst []byte, c Claim) ([]byte, error) {
	flags := byte(len(c.Addrs))
	if c.Source {
		flags |= claimSource
	}
	dst = append(dst, flags)
	for _, a := range c.Addrs {
		if !a.IsValid() {
			return dst, fmt.Errorf("claim: invalid address")
		}
		a = a.Unmap().WithZone("")
		if a.Is4() {
			b := a.As4()
			dst = append(dst, 4)
			dst = append(dst, b[:]...)
		} else {
			b := a.As16()
			dst = append(dst, 6)
			dst = append(dst, b[:]...)
		}
	}
	return dst, nil
}

// checkClaim refuses a claim no server could use or no packet could hold.
func checkClaim(c Claim) error {
	if len(c.Addrs) > MaxClaimAddrs {
		return fmt.Errorf("claim: %d addresses, at most %d", len(c.Addrs), MaxClaimAddrs)
	}
	if len(c.Addrs) == 0 && !c.Source {
		return fmt.Errorf("claim: no address and no source: nothing could be opened")
	}
	return nil
}

// Open checks payload as a packet knock of step that arrived on element k
// from src (the bound source for source-bound users, else the zero Addr).
// It verifies the tag in constant time before it looks at anything else,
// then decrypts and parses the claim. The returned Claim's Addrs are valid
// until the next call. Open does not allocate.
func (pd *PacketDeriver) Open(payload []byte, step uint64, k Knock, src netip.Addr) (Claim, error) {
	if len(payload) < MinPayload || len(payload) > MaxPayload {
		return Claim{}, ErrPayloadSize
	}
	nonce := payload[:NonceSize]
	body := payload[NonceSize : len(payload)-TagSize]
	pd.sumTag(step, k, nonce, body, src)
	if !hmac.Equal(pd.sum[:TagSize], payload[len(payload)-TagSize:]) {
		return Claim{}, ErrTag
	}
	pt := pd.plain[:len(body)]
	copy(pt, body)
	pd.xorKeystream(pt, step, nonce)
	return pd.parseClaim(pt)
}

// parseClaim reads a decrypted claim; anything but the canonical form
// (known flags, families 4 and 6, no mapped addresses, zero padding) is
// refused.
func (pd *PacketDeriver) parseClaim(pt []byte) (Claim, error) {
	flags := pt[0]
	n := int(flags & claimCount)
	if flags&^(claimCount|claimSource) != 0 || n > MaxClaimAddrs {
		return Claim{}, ErrClaim
	}
	c := Claim{Source: flags&claimSource != 0, Addrs: pd.addrs[:0]}
	off := 1
	for range n {
		if off >= len(pt) {
			return Claim{}, ErrClaim
		}
		switch fam := pt[off]; {
		case fam == 4 && off+5 <= len(pt):
			c.Addrs = append(c.Addrs, netip.AddrFrom4([4]byte(pt[off+1:off+5])))
			off += 5
		case fam == 6 && off+17 <= len(pt):
			a := netip.AddrFrom16([16]byte(pt[off+1 : off+17]))
			if a.Is4In6() {
				return Claim{}, ErrClaim
			}
			c.Addrs = append(c.Addrs, a)
			off += 17
		default:
			return Claim{}, ErrClaim
		}
	}
	for _, b := range pt[off:] {
		if b != 0 {
			return Claim{}, ErrClaim
		}
	}
	return c, nil
}

// xorKeystream XORs b with HMAC(secret, counter i || enc label || step ||
// id || params || lp(nonce)) for i = 1, 2, ...
func (pd *PacketDeriver) xorKeystream(b []byte, step uint64, nonce []byte) {
	binary.BigEndian.PutUint64(pd.enc[pd.encAt:], step)
	for i := 0; i*sha256.Size < len(b); i++ {
		binary.BigEndian.PutUint32(pd.enc, uint32(i+1))
		pd.mac.Reset()
		pd.mac.Write(pd.enc)
		pd.writeLP(nonce)
		pd.sum = pd.mac.Sum(pd.sum[:0])
		for j, x := range pd.sum {
			if i*sha256.Size+j >= len(b) {
				break
			}
			b[i*sha256.Size+j] ^= x
		}
	}
}

// sumTag sets pd.sum to HMAC(secret, counter 0 || tag label || step || id
// || params || proto || value || lp(nonce) || lp(body) || lp(src)).
func (pd *PacketDeriver) sumTag(step uint64, k Knock, nonce, body []byte, src netip.Addr) {
	binary.BigEndian.PutUint64(pd.tag[pd.tagAt:], step)
	pd.mac.Reset()
	pd.mac.Write(pd.tag)
	pd.small[0] = byte(k.Proto)
	binary.BigEndian.PutUint16(pd.small[1:], k.Port)
	pd.mac.Write(pd.small[:3])
	pd.writeLP(nonce)
	pd.writeLP(body)
	switch {
	case !src.IsValid():
		pd.writeLP(nil)
	case src.Unmap().Is4():
		a := src.Unmap().As4()
		copy(pd.small[:], a[:])
		pd.writeLP(pd.small[:4])
	default:
		a := src.As16()
		copy(pd.small[:], a[:])
		pd.writeLP(pd.small[:16])
	}
	pd.sum = pd.mac.Sum(pd.sum[:0])
}

// writeLP writes a 16-bit length and b to the MAC.
func (pd *PacketDeriver) writeLP(b []byte) {
	binary.BigEndian.PutUint16(pd.lp[:], uint16(len(b)))
	pd.mac.Write(pd.lp[:])
	pd.mac.Write(b)
}
