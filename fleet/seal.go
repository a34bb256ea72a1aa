package fleet

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/otpknock/otpknock/derive"
	"golang.org/x/crypto/nacl/box"
)

// KeyPair is an X25519 box key pair: a member's, or the administrator's.
type KeyPair struct {
	Public, Private [32]byte
}

// NewKeyPair returns a fresh key pair from crypto/rand.
func NewKeyPair() (KeyPair, error) {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generating a box key: %w", err)
	}
	return KeyPair{Public: *pub, Private: *priv}, nil
}

// UserKey is what a record seals: one user's member key for one
// member's identity, and the user's options. For an ed25519 user (Auth)
// the member key is the member's locator secret, which finds the knock's
// element but cannot open anything, and PublicKey the key line its
// knocks are signed with, the same for every member (docs/spec.md
// section 14.5): no record, and no member, holds what can knock.
type UserKey struct {
	User      string         `json:"user"`
	Member    string         `json:"member"`
	Identity  string         `json:"identity"`
	Key       []byte         `json:"key"` // derive.MemberKey for Identity
	Open      []string       `json:"open"`
	From      []netip.Prefix `json:"from,omitempty"`
	Bind      bool           `json:"bind,omitempty"`
	Knock     string         `json:"knock,omitempty"`      // sequence (empty) or packet
	Auth      string         `json:"auth,omitempty"`       // a packet user's: hmac (empty) or ed25519
	PublicKey string         `json:"public_key,omitempty"` // an ed25519 user's key line (otpknock-ed25519 BASE64 NAME)
}

// ErrNotForUs is returned by [Open] for a record that does not open with
// the member's key and the administrator's public key, or that names
// another user, member or identity than its place says: forged, damaged,
// or moved between keys.
var ErrNotForUs = errors.New("record does not open for this member from the administrator")

// Seal seals k for the member m from the administrator's key pair.
func Seal(admin KeyPair, m MemberInfo, k UserKey) (Record, error) {
	if len(m.Public) != 32 {
		return Record{}, fmt.Errorf("member %s: public key is %d bytes, want 32", m.Name, len(m.Public))
	}
	plain, err := json.Marshal(k)
	if err != nil {
		return Record{}, err
	}
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return Record{}, err
	}
	peer := [32]byte(m.Public)
	return Record{User: k.User, Member: m.Name, Nonce: nonce[:], Box: box.Seal(nil, plain, &nonce, &peer, &admin.Private)}, nil
}

// Open opens r for the member me (its key pair), sealed by the
// administrator's public key, and checks that it names r's user, me and
// identity.
func Open(r Record, me KeyPair, name, identity string, admin [32]byte) (UserKey, error) {
	if len(r.Nonce) != 24 {
		return UserKey{}, ErrNotForUs
	}
	plain, ok := box.Open(nil, r.Box, (*[24]byte)(r.Nonce), &admin, &me.Private)
	if !ok {
		return UserKey{}, ErrNotForUs
	}
	var k UserKey
	if err := json.Unmarshal(plain, &k); err != nil {
		return UserKey{}, fmt.Errorf("record of %s: %w", r.User, err)
	}
	if k.User != r.User || k.Member != name || k.Identity != identity || len(k.Key) < derive.MinSecret {
		return UserKey{}, ErrNotForUs
	}
	return k, nil
}

// SealUser derives the member key of each member's identity from the
// enrollment secret and seals it with k's options (k's Key, Member and
// Identity are set per member): the administrator's side of a user add.
func SealUser(admin KeyPair, fleetID string, secret []byte, members []MemberInfo, k UserKey) ([]Record, error) {
	var out []Record
	for _, m := range members {
		key, err := derive.MemberKey(secret, fleetID, m.Identity)
		if err != nil {
			return nil, fmt.Errorf("member %s: %w", m.Name, err)
		}
		k.Key, k.Member, k.Identity = key, m.Name, m.Identity
		r, err := Seal(admin, m, k)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
