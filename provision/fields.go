package provision

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/otpknock/otpknock/internal/naming"
)

// checkNames refuses a server id, user name or host the server would not
// have written (the rules of package naming, which the server's config
// enforces too): anything else, control characters above all, came from
// a forged or damaged URI and must not reach a terminal.
func checkNames(a Account) error {
	switch {
	case a.Fleet == "" && !naming.ServerID(a.ServerID):
		return fmt.Errorf("server: %q must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", a.ServerID)
	case !naming.User(a.User):
		return fmt.Errorf("user: %q must be 1-32 of a-z 0-9 . _ - starting with a letter or digit", a.User)
	case a.Host != "" && !naming.Host(a.Host):
		return fmt.Errorf("host: %q is not a host name or address (1-253 of A-Z a-z 0-9 . : _ -)", a.Host)
	}
	return nil
}

// Printable returns s as it may go to a terminal: unchanged when every
// character prints, else with control and other non-printing characters
// (escape sequences, line breaks, bidirectional overrides, invalid
// UTF-8) written as \x.. or \u.... escapes.
func Printable(s string) string {
	if strings.IndexFunc(s, notPrintable) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case notPrintable(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case notPrintable(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }
