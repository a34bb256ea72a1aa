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

// DecodeSecret parses Base32 (any case, padding and spaces ignored) and
// refuses secrets shorter than [MinSecret] bytes (128 bits). Its errors
// are [*FieldError]s about [FieldSecret].
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "=", "", "\n", "", "\r", "", "\t", "").Replace(s))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, &FieldError{Field: FieldSecret, Err: fmt.Errorf("not Base32: %w", err)}
	}
	if len(b) < MinSecret {
		return nil, fieldError(FieldSecret, "%d bits, need at least %d", 8*len(b), 8*MinSecret)
	}
	return b, nil
}
