package derive

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Auth is how a packet user authenticates its knocks (docs/spec.md
// section 11.11): with the shared secret's HMAC tag, or with an Ed25519
// signature the server verifies with the user's public key only.
type Auth uint8

// The authentications; the zero value is HMAC, as when a config or a URI
// has no auth field.
const (
	AuthHMAC    Auth = iota // the tag of section 11.3, under the shared secret
	AuthEd25519             // a signature under the user's key, a locator secret for the rest
)

// String returns "hmac" or "ed25519", the auth field's values.
func (a Auth) String() string {
	if a == AuthEd25519 {
		return "ed25519"
	}
	return "hmac"
}

// ParseAuth reads an auth field: "" or "hmac", or "ed25519" (any case).
func ParseAuth(s string) (Auth, error) {
	switch {
	case s == "" || strings.EqualFold(s, "hmac"):
		return AuthHMAC, nil
	case strings.EqualFold(s, "ed25519"):
		return AuthEd25519, nil
	}
	return 0, fmt.Errorf("%q must be hmac or ed25519", s)
}

// KeyLinePrefix starts a public key line: otpknock-ed25519 BASE64 [NAME].
const KeyLinePrefix = "otpknock-ed25519"

// FormatKeyLine returns the public key line of pub, as otpknock keygen
// prints it and otpknockd user add --key reads it: the prefix, the key
// in standard Base64 and, when not empty, name.
func FormatKeyLine(pub ed25519.PublicKey, name string) string {
	line := KeyLinePrefix + " " + base64.StdEncoding.EncodeToString(pub)
	if name != "" {
		line += " " + name
	}
	return line
}

// ParseKeyLine reads a public key line: the prefix, a 32-byte key in
// standard Base64 and an optional name (the rest of the line, printable
// ASCII). A bare Base64 key is accepted too.
func ParseKeyLine(line string) (ed25519.PublicKey, string, error) {
	f := strings.Fields(strings.TrimSpace(line))
	if len(f) > 0 && f[0] == KeyLinePrefix {
		f = f[1:]
	}
	if len(f) == 0 {
		return nil, "", fmt.Errorf("public key line: empty, want %q", KeyLinePrefix+" BASE64 [NAME]")
	}
	b, err := base64.StdEncoding.DecodeString(f[0])
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, "", fmt.Errorf("public key line: %.20q is not a 32-byte Ed25519 key in Base64", f[0])
	}
	name := strings.Join(f[1:], " ")
	for _, r := range name {
		if r < 0x21 && r != ' ' || r > 0x7e {
			return nil, "", fmt.Errorf("public key line: the name must be printable ASCII")
		}
	}
	return ed25519.PublicKey(b), name, nil
}

// Fingerprint is SHA256: and the unpadded Base64 of pub's SHA-256, as
// ssh-keygen -l prints a key's.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// PacketElement returns a packet user's element of step: with auth hmac
// the one of section 11.1 from the secret, with ed25519 the one of
// section 11.11 from the locator secret. Commands that show the element
// (the client's show and TUI, the server's user show) call it.
func PacketElement(a Auth, secret []byte, serverID string, p Params, step uint64) (Knock, error) {
	if a == AuthEd25519 {
		sd, err := NewSigPacket(secret, nil, serverID, p)
		if err != nil {
			return Knock{}, err
		}
		return sd.Knock(step)
	}
	pd, err := NewPacket(secret, serverID, p)
	if err != nil {
		return Knock{}, err
	}
	return pd.Knock(step)
}
