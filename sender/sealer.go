package sender

import (
	"crypto/ed25519"
	"errors"
	"net/netip"

	"github.com/otpknock/otpknock/derive"
)

// sealer makes a packet knock's element and payload: derive's HMAC
// packet deriver, or its Ed25519 one with the profile's private key
// (docs/spec.md section 11.11).
type sealer interface {
	Knock(step uint64) (derive.Knock, error)
	Seal(dst []byte, step uint64, nonce []byte, c derive.Claim, src netip.Addr, size int) ([]byte, error)
}

// sigSealer signs with key what its deriver seals.
type sigSealer struct {
	*derive.SigPacketDeriver
	key ed25519.PrivateKey
}

func (s sigSealer) Seal(dst []byte, step uint64, nonce []byte, c derive.Claim, src netip.Addr, size int) ([]byte, error) {
	return s.SigPacketDeriver.Seal(dst, s.key, step, nonce, c, src, size)
}

// newSealer returns the sealer of r's authentication.
func newSealer(r Request) (sealer, error) {
	if r.Auth != derive.AuthEd25519 {
		pd, err := derive.NewPacket(r.Secret, r.ServerID, r.Params)
		if err != nil {
			return nil, err
		}
		return pd, nil
	}
	if len(r.PrivateKey) != ed25519.PrivateKeySize {
		return nil, errors.New("this profile signs its knocks and holds no Ed25519 private key: import it again after otpknock keygen")
	}
	sd, err := derive.NewSigPacket(r.Secret, nil, r.ServerID, r.Params)
	if err != nil {
		return nil, err
	}
	return sigSealer{sd, r.PrivateKey}, nil
}
