package fleet

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

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
	// GrantPrefix is the user's grant_prefix in the form of user add's
	// --grant-prefix, "24,64" (the IPv4 and IPv6 prefix lengths a grant
	// opens around each granted address); empty, the address alone. A
	// member refuses the user when it is wider than its floors
	// (docs/spec.md section 14.4).
	GrantPrefix string `json:"grant_prefix,omitempty"`
	// Generation orders the administrator's records of one user for one
	// member: the administrator's clock in Unix nanoseconds when it
	// sealed, above every generation of the user it finds in the store
	// (docs/spec.md section 14.4). A member refuses a record whose
	// generation is below the highest it has accepted for the user.
	Generation uint64 `json:"generation"`
	// Removed marks a tombstone: the user is removed, as of Generation;
	// it has no Key and no options.
	Removed bool `json:"removed,omitempty"`
}

// labels copies what a listing shows from k into r, in the clear: a
// member refuses a record whose labels differ from its sealed payload
// ([Open]), so the labels of a record any member holds are the
// administrator's.
func (r *Record) labels(k UserKey) {
	r.Generation, r.Removed, r.Knock, r.Auth, r.GrantPrefix = k.Generation, k.Removed, k.Knock, k.Auth, k.GrantPrefix
}

// ErrNotForUs is returned by [Open] for a record that does not open with
// the member's key and the administrator's public key, or that names
// another user, member or identity than its place says: forged, damaged,
// or moved between keys.
var ErrNotForUs = errors.New("record does not open for this member from the administrator")

// Seal seals k for the member m from the administrator's key pair; a
// k.Generation of 0 is the current time.
func Seal(admin KeyPair, m MemberInfo, k UserKey) (Record, error) {
	if len(m.Public) != 32 {
		return Record{}, fmt.Errorf("member %s: public key is %d bytes, want 32", m.Name, len(m.Public))
	}
	if k.Generation == 0 {
		k.Generation = uint64(time.Now().UnixNano())
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
	r := Record{User: k.User, Member: m.Name, Nonce: nonce[:], Box: box.Seal(nil, plain, &nonce, &peer, &admin.Private)}
	r.labels(k)
	return r, nil
}

// SealTombstone seals the removal of user, as of generation, for the
// member m: the record that replaces the member's record of user.
func SealTombstone(admin KeyPair, m MemberInfo, user string, generation uint64) (Record, error) {
	return Seal(admin, m, UserKey{User: user, Member: m.Name, Identity: m.Identity, Generation: generation, Removed: true})
}

// Open opens r for the member me (its key pair), sealed by the
// administrator's public key, and checks that it names r's user, me and
// identity, that it has a generation, that its labels are its payload's,
// and that it holds a member key unless it is a tombstone.
func Open(r Record, me KeyPair, name, identity string, admin [32]byte) (UserKey, error) {
	k, err := open(r, &admin, &me.Private)
	if err != nil {
		return UserKey{}, err
	}
	if k.Member != name || k.Identity != identity {
		return UserKey{}, ErrNotForUs
	}
	return k, nil
}

// open opens r between peer and own (either side of the box) and checks
// what does not depend on who opens it.
func open(r Record, peer, own *[32]byte) (UserKey, error) {
	if len(r.Nonce) != 24 {
		return UserKey{}, ErrNotForUs
	}
	plain, ok := box.Open(nil, r.Box, (*[24]byte)(r.Nonce), peer, own)
	if !ok {
		return UserKey{}, ErrNotForUs
	}
	var k UserKey
	if err := json.Unmarshal(plain, &k); err != nil {
		return UserKey{}, fmt.Errorf("record of %s: %w", r.User, err)
	}
	var want Record
	want.labels(k)
	if k.User != r.User || k.Member != r.Member || k.Generation == 0 || k.Removed != (len(k.Key) == 0) ||
		!k.Removed && len(k.Key) < derive.MinSecret ||
		want.Generation != r.Generation || want.Removed != r.Removed || want.Knock != r.Knock || want.Auth != r.Auth ||
		want.GrantPrefix != r.GrantPrefix {
		return UserKey{}, ErrNotForUs
	}
	return k, nil
}

// OpenSealed opens a record the administrator sealed for the member
// whose public key is member: the administrator's side, to read the
// generation of what it wrote.
func OpenSealed(r Record, admin KeyPair, member [32]byte) (UserKey, error) {
	return open(r, &member, &admin.Private)
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
