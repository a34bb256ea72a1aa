package derive

import (
	"encoding/base32"
	"fmt"
	"strings"
)

// b32 is the otpauth URI secret encoding: RFC 4648 Base32 without padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns the Base32 form of a secret, as in otpauth URIs,
// the server's secret files and the client's profiles.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret parses Base32 as docs/spec.md section 9.3 reads it: upper
// or lower case, spaces, tabs and line breaks removed anywhere, '='
// padding only after the last character, and an unpadded length that is
// not 1, 3 or 6 modulo 8 (no Base32 encoding has those lengths; Go's
// decoder would drop the extra characters). It refuses secrets shorter
// than [MinSecret] bytes (128 bits). Its errors are [*FieldError]s about
// [FieldSecret].
func DecodeSecret(s string) ([]byte, error) {
	s = strings.Map(base32Char, s)
	data := strings.TrimRight(s, "=")
	if strings.Contains(data, "=") {
		return nil, fieldError(FieldSecret, "not Base32: '=' padding before the last character")
	}
	switch len(data) % 8 {
	case 1, 3, 6:
		return nil, fieldError(FieldSecret, "not Base32: %d characters, no Base32 encoding has that length (1, 3 or 6 more than a multiple of 8)", len(data))
	}
	b, err := b32.DecodeString(data)
	if err != nil {
		return nil, &FieldError{Field: FieldSecret, Err: fmt.Errorf("not Base32: %w", err)}
	}
	if len(b) < MinSecret {
		return nil, fieldError(FieldSecret, "%d bits, need at least %d", 8*len(b), 8*MinSecret)
	}
	return b, nil
}

// base32Char upper-cases ASCII letters and drops whitespace; any other
// rune is kept for the decoder to refuse (strings.ToUpper would turn
// some non-ASCII letters into ASCII ones).
func base32Char(r rune) rune {
	switch {
	case r == ' ' || r == '\t' || r == '\n' || r == '\r':
		return -1
	case r >= 'a' && r <= 'z':
		return r - 'a' + 'A'
	}
	return r
}
