package fleet

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/otpknock/otpknock/internal/safefile"
	"golang.org/x/crypto/curve25519"
)

// LoadOrCreateKey reads the X25519 key pair whose private half is in
// path (Base64, mode 0600), creating it when the file does not exist.
func LoadOrCreateKey(path string) (KeyPair, bool, error) {
	kp, err := LoadKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return kp, false, err
	}
	if kp, err = NewKeyPair(); err != nil {
		return KeyPair{}, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return KeyPair{}, false, fmt.Errorf("fleet key %s: %w", path, err)
	}
	if err := safefile.Write(path, []byte(base64.StdEncoding.EncodeToString(kp.Private[:])+"\n"), 0o600); err != nil {
		return KeyPair{}, false, fmt.Errorf("fleet key %s: %w", path, err)
	}
	return kp, true, nil
}

// LoadKey reads the key pair whose private half is in path; the file must
// be private to its owner.
func LoadKey(path string) (KeyPair, error) {
	if err := safefile.CheckPrivate(path); err != nil {
		return KeyPair{}, fmt.Errorf("fleet key %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return KeyPair{}, fmt.Errorf("fleet key %s: %w", path, err)
	}
	priv, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(priv) != 32 {
		return KeyPair{}, fmt.Errorf("fleet key %s: not a Base64 X25519 private key of 32 bytes", path)
	}
	var kp KeyPair
	copy(kp.Private[:], priv)
	pub, err := curve25519.X25519(kp.Private[:], curve25519.Basepoint)
	if err != nil {
		return KeyPair{}, fmt.Errorf("fleet key %s: %w", path, err)
	}
	copy(kp.Public[:], pub)
	return kp, nil
}

// ParsePublic reads a Base64 X25519 public key (the administrator's, in a
// member's config).
func ParsePublic(s string) ([32]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return [32]byte{}, errors.New("not a Base64 X25519 public key of 32 bytes")
	}
	return [32]byte(b), nil
}

// PublicString is the Base64 form of a public key.
func PublicString(pub [32]byte) string { return base64.StdEncoding.EncodeToString(pub[:]) }
