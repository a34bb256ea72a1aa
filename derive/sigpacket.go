package derive

import (
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Labels of the Ed25519 packet knock's messages (docs/spec.md section
// 11.11). The element, keystream and check are keyed with the user's
// locator secret; the signature message is signed with the user's
// private key.
const (
	SigPortLabel  = "otpknock/v1/ed25519-port"  // the rotating element
	SigEncLabel   = "otpknock/v1/ed25519-enc"   // the keystream over the claim and the signature
	SigCheckLabel = "otpknock/v1/ed25519-check" // the locator's check, verified before the signature
	SigMsgLabel   = "otpknock/v1/ed25519-sig"   // the message the user's key signs
)

// Sizes of an Ed25519 packet knock's payload: nonce || sealed claim ||
// sealed signature || check.
const (
	SigSize       = ed25519.SignatureSize             // 64
	MinSigPayload = NonceSize + 1 + SigSize + TagSize // an empty claim: 97
	sigOverhead   = NonceSize + SigSize + TagSize     // 96
)

// ErrSignature is returned by [SigPacketDeriver.Open] when the payload
// passes the locator's check but its signature does not verify under the
// user's public key.
var ErrSignature = errors.New("payload signature does not verify")

var sigLabels = packetLabels{SigPortLabel, SigEncLabel, SigCheckLabel}

// SigPacketDeriver computes and checks Ed25519 packet knocks for one
// (locator secret, public key, server identity, parameters). The locator
// gives the element, the claim's keystream and a cheap check; only the
// private key can make a payload that opens. It is not safe for
// concurrent use.
type SigPacketDeriver struct {
	pd    *PacketDeriver // keyed with the locator, with the Ed25519 labels
	pub   ed25519.PublicKey
	msg   []byte // the signed message's prefix: counter 0, label, step, id, params
	msgAt int    // the step's offset in msg
	buf   []byte // the signed message
	plain [MaxPayload]byte
}

// NewSigPacket validates its inputs and returns a SigPacketDeriver. pub
// may be nil for a deriver that only seals (a client's).
func NewSigPacket(locator []byte, pub ed25519.PublicKey, serverID string, p Params) (*SigPacketDeriver, error) {
	if pub != nil && len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	pd, err := newPacket(locator, serverID, p, sigLabels)
	if err != nil {
		return nil, err
	}
	msg, _ := encodePrefix(SigMsgLabel, serverID, p, p.excluded())
	return &SigPacketDeriver{pd: pd, pub: pub, msg: msg, msgAt: stepOffset(SigMsgLabel),
		buf: make([]byte, 0, len(msg)+3+2+NonceSize+2+MaxPayload+2+16)}, nil
}

// Knock returns the element of step: one draw with the Ed25519 port
// label under the locator.
func (sd *SigPacketDeriver) Knock(step uint64) (Knock, error) { return sd.pd.Knock(step) }

// SigNeed is the smallest payload that holds c in an Ed25519 packet knock.
func SigNeed(c Claim) int { return sigOverhead + ClaimLen(c) }

// SizeRange is the range a sender draws a payload's size from, the same
// for both modes so that the size says nothing of the mode: from
// max(PayloadMin, SigNeed(c)) to PayloadMax.
func SizeRange(c Claim) (lo, hi int) { return max(PayloadMin, SigNeed(c)), PayloadMax }

// Seal appends an Ed25519 packet knock of step to dst: nonce, then the
// claim padded with zeros and the signature, both XORed with the
// locator's keystream, then the check. The signature covers the step,
// the server identity, the element, the nonce, the claim's ciphertext
// and src (the bound source for source-bound users, else the zero Addr).
func (sd *SigPacketDeriver) Seal(dst []byte, key ed25519.PrivateKey, step uint64, nonce []byte, c Claim, src netip.Addr, size int) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return dst, fmt.Errorf("private key: %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if len(nonce) != NonceSize {
		return dst, fmt.Errorf("nonce: %d bytes, want %d", len(nonce), NonceSize)
	}
	if err := checkClaim(c); err != nil {
		return dst, err
	}
	if need := SigNeed(c); size < need || size > MaxPayload {
		return dst, fmt.Errorf("payload size %d: want %d to %d for this claim", size, need, MaxPayload)
	}
	k, err := sd.Knock(step)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, nonce...)
	if dst, err = appendClaim(dst, c); err != nil {
		return dst[:start], err
	}
	for len(dst)-start < size-TagSize {
		dst = append(dst, 0)
	}
	body := dst[start+NonceSize:]
	sd.pd.xorKeystream(body, step, nonce) // the signature's place now holds its keystream
	ct := body[:len(body)-SigSize]
	sig := sign(key, sd.message(step, k, nonce, ct, src))
	for i, b := range sig {
		body[len(ct)+i] ^= b
	}
	sd.pd.sumTag(step, k, nonce, body, src)
	return append(dst, sd.pd.sum[:TagSize]...), nil
}

// Check runs the locator's check on payload as a knock of step on
// element k: its size, then the check in constant time. It costs about
// one HMAC; a payload that fails it was not made with the locator.
func (sd *SigPacketDeriver) Check(payload []byte, step uint64, k Knock, src netip.Addr) error {
	if len(payload) < MinSigPayload || len(payload) > MaxPayload {
		return ErrPayloadSize
	}
	body := payload[NonceSize : len(payload)-TagSize]
	sd.pd.sumTag(step, k, payload[:NonceSize], body, src)
	if !hmac.Equal(sd.pd.sum[:TagSize], payload[len(payload)-TagSize:]) {
		return ErrTag
	}
	return nil
}

// Open checks payload fully: [SigPacketDeriver.Check], then the signature
// under the public key, then the claim, which it returns (its Addrs are
// valid until the next call).
func (sd *SigPacketDeriver) Open(payload []byte, step uint64, k Knock, src netip.Addr) (Claim, error) {
	if err := sd.Check(payload, step, k, src); err != nil {
		return Claim{}, err
	}
	return sd.OpenChecked(payload, step, k, src)
}

// OpenChecked is Open for a payload that passed Check with the same
// arguments: it decrypts and verifies the signature (tens of
// microseconds), then decrypts and parses the claim.
func (sd *SigPacketDeriver) OpenChecked(payload []byte, step uint64, k Knock, src netip.Addr) (Claim, error) {
	if sd.pub == nil {
		return Claim{}, ErrSignature
	}
	nonce := payload[:NonceSize]
	body := payload[NonceSize : len(payload)-TagSize]
	pt := sd.plain[:len(body)]
	copy(pt, body)
	sd.pd.xorKeystream(pt, step, nonce)
	ct := body[:len(body)-SigSize]
	if !verify(sd.pub, sd.message(step, k, nonce, ct, src), pt[len(ct):]) {
		return Claim{}, ErrSignature
	}
	return sd.pd.parseClaim(pt[:len(ct)])
}

// Message returns the signed message of a knock of step on k with nonce,
// the claim's ciphertext ct and src: for vectors and debugging.
func (sd *SigPacketDeriver) Message(step uint64, k Knock, nonce, ct []byte, src netip.Addr) []byte {
	return append([]byte(nil), sd.message(step, k, nonce, ct, src)...)
}

// message builds, in sd.buf, counter 0 || lp(sig label) || step || lp(id)
// || lp(params) || proto || value || lp(nonce) || lp(ct) || lp(bound).
func (sd *SigPacketDeriver) message(step uint64, k Knock, nonce, ct []byte, src netip.Addr) []byte {
	binary.BigEndian.PutUint64(sd.msg[sd.msgAt:], step)
	b := append(sd.buf[:0], sd.msg...)
	b = append(b, byte(k.Proto))
	b = binary.BigEndian.AppendUint16(b, k.Port)
	b = appendLP(b, nonce)
	b = appendLP(b, ct)
	switch {
	case !src.IsValid():
		b = appendLP(b, nil)
	case src.Unmap().Is4():
		a := src.Unmap().As4()
		b = appendLP(b, a[:])
	default:
		a := src.As16()
		b = appendLP(b, a[:])
	}
	sd.buf = b
	return b
}

// sign is Ed25519 (RFC 8032, pure: no prehash, no context) of msg under
// key; the vectors run RFC 8032's own test vectors through it.
func sign(key ed25519.PrivateKey, msg []byte) []byte { return ed25519.Sign(key, msg) }

// verify checks an Ed25519 signature as [sign] makes it.
func verify(pub ed25519.PublicKey, msg, sig []byte) bool { return ed25519.Verify(pub, msg, sig) }
