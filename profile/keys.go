package profile

import (
	"cmp"
	"crypto/ed25519"
	"fmt"
	"io"
	"slices"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/naming"
	"github.com/otpknock/otpknock/provision"
)

// Key is an Ed25519 key pair of the store, made by otpknock keygen before
// any server knows it (docs/spec.md section 11.11). Its private half
// stays in the store file (mode 0600); a profile of an ed25519 user keeps
// a copy of the key it knocks with.
type Key struct {
	Name    string // what keygen --name gave, e.g. alice@laptop
	Private ed25519.PrivateKey
}

// keyFile is the YAML form of a Key: the 32-byte seed in Base32.
type keyFile struct {
	Name       string `yaml:"name"`
	PrivateKey string `yaml:"private_key"`
}

// Line is the key's public key line, the one an administrator enrolls.
func (k Key) Line() string {
	return derive.FormatKeyLine(k.Private.Public().(ed25519.PublicKey), k.Name)
}

// GenerateKey makes a key pair called name from rand (crypto/rand's
// Reader) and adds it to the store; a key of the same name is an error.
func (s *Store) GenerateKey(name string, rand io.Reader) (Key, error) {
	if !naming.Profile(name) {
		return Key{}, fmt.Errorf("key name %q must be 1-64 of A-Z a-z 0-9 . _ @ -", name)
	}
	if _, ok := s.Key(name); ok {
		return Key{}, fmt.Errorf("a key named %q exists in %s: choose another with --name", name, s.Path)
	}
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return Key{}, fmt.Errorf("generating the key pair: %w", err)
	}
	k := Key{Name: name, Private: priv}
	s.Keys = append(s.Keys, k)
	slices.SortStableFunc(s.Keys, func(a, b Key) int { return cmp.Compare(a.Name, b.Name) })
	return k, nil
}

// Key returns the key called name.
func (s *Store) Key(name string) (Key, bool) {
	for _, k := range s.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// AttachKey gives an imported ed25519 account the private key it knocks
// with: the one a carries (a pair the server made), else the key called
// name, else the store's only key.
func (s *Store) AttachKey(a *provision.Account, name string) error {
	if a.Auth != derive.AuthEd25519 || a.PrivateKey != nil {
		return nil
	}
	switch k, ok := s.Key(name); {
	case ok:
		a.PrivateKey = k.Private
	case name != "":
		return fmt.Errorf("no key %q in %s: make one with otpknock keygen --name %s", name, s.Path, name)
	case len(s.Keys) == 1:
		a.PrivateKey = s.Keys[0].Private
	case len(s.Keys) == 0:
		return fmt.Errorf("this account signs its knocks with an Ed25519 key and %s has none: run otpknock keygen, have the server enroll the line it prints, and import the URI it gives", s.Path)
	default:
		return fmt.Errorf("%d keys in %s: name the one the server enrolled", len(s.Keys), s.Path)
	}
	return nil
}

// encodeSeed and decodeSeed write and read a private key as its seed.
func encodeSeed(k ed25519.PrivateKey) string {
	if k == nil {
		return ""
	}
	return derive.EncodeSecret(k.Seed())
}

func decodeSeed(s string) (ed25519.PrivateKey, error) {
	seed, err := derive.DecodeSecret(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("private_key: want a %d-byte Ed25519 seed in Base32", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// keysOf reads the store file's keys.
func keysOf(kf []keyFile) ([]Key, error) {
	var out []Key
	for i, f := range kf {
		k, err := decodeSeed(f.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (%s): %w", i, f.Name, err)
		}
		out = append(out, Key{Name: f.Name, Private: k})
	}
	return out, nil
}

// keyFiles writes the store's keys.
func keyFiles(ks []Key) []keyFile {
	var out []keyFile
	for _, k := range ks {
		out = append(out, keyFile{Name: k.Name, PrivateKey: encodeSeed(k.Private)})
	}
	return out
}

// authOf reads a profile's auth and private_key fields.
func (pf profileFile) authOf(p *Profile) error {
	var err error
	if p.Auth, err = derive.ParseAuth(pf.Auth); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	switch {
	case p.Auth == derive.AuthHMAC && pf.PrivateKey != "":
		return fmt.Errorf("private_key: only auth: ed25519 profiles have one")
	case p.Auth == derive.AuthHMAC:
		return nil
	case p.Knock != derive.ModePacket:
		return fmt.Errorf("auth: ed25519 needs knock: packet")
	}
	p.PrivateKey, err = decodeSeed(pf.PrivateKey)
	return err
}
