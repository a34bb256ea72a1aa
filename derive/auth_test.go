package derive

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestKeyLine(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
	for _, tc := range []struct{ name, line, comment string }{
		{"with a name", FormatKeyLine(pub, "alice@laptop"), "alice@laptop"},
		{"bare", FormatKeyLine(pub, ""), ""},
		{"base64 only, spaces", "  " + strings.Fields(FormatKeyLine(pub, ""))[1] + "\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, name, err := ParseKeyLine(tc.line)
			if err != nil || !bytes.Equal(got, pub) || name != tc.comment {
				t.Errorf("ParseKeyLine(%q) = %x, %q, %v; want %x, %q", tc.line, got, name, err, pub, tc.comment)
			}
		})
	}
}

func TestKeyLineErrors(t *testing.T) {
	for _, line := range []string{"", "otpknock-ed25519", "otpknock-ed25519 AAAA", "otpknock-ed25519 !!!", FormatKeyLine(make([]byte, 32), "a\x1bb")} {
		if _, _, err := ParseKeyLine(line); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseKeyLine(%q) = %v, want a one-line error", line, err)
		}
	}
}
