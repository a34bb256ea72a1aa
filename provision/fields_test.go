package provision

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// withField returns the defaults account's URI with one query field set.
func withField(t *testing.T, field, value string) string {
	t.Helper()
	good, err := accounts()["defaults"].URI()
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(field, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestURIFieldsRefuseControls: server, user and host holding terminal
// escapes, line breaks or other control characters are refused with one
// line naming the field and showing no raw control character.
func TestURIFieldsRefuseControls(t *testing.T) {
	bad := map[string]string{
		"ESC":                  "gw1\x1b[2J",
		"OSC title":            "\x1b]0;owned\x07",
		"newline":              "gw1\nImported profile evil",
		"carriage return":      "gw1\rx",
		"tab":                  "gw1\tx",
		"NUL":                  "gw1\x00",
		"DEL":                  "gw1\x7f",
		"C1 CSI":               "gw1\u009b2J",
		"right-to-left":        "gw1\u202egpj",
		"space":                "gw 1",
		"too long":             strings.Repeat("a", 254),
		"upper case user only": "Alice",
	}
	for _, field := range []string{"server", "user", "host"} {
		for name, v := range bad {
			if name == "upper case user only" && field != "user" {
				continue
			}
			t.Run(field+"/"+name, func(t *testing.T) {
				_, err := ParseURI(withField(t, field, v))
				if err == nil {
					t.Fatalf("%s=%q accepted", field, v)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "provisioning URI: "+field+": ") {
					t.Errorf("error %q does not name the field %s", msg, field)
				}
				if strings.IndexFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
					t.Errorf("error %q holds a control character", msg)
				}
			})
		}
	}
}

// TestURIFieldsAccept: what the server's config accepts imports.
func TestURIFieldsAccept(t *testing.T) {
	good := []struct{ field, value string }{
		{"server", "gw1"}, {"server", "Edge-2.example_x"}, {"server", strings.Repeat("a", 64)},
		{"user", "alice"}, {"user", "bob.smith_2-x"}, {"user", strings.Repeat("z", 32)},
		{"host", "knock.example.org"}, {"host", "198.18.0.1"}, {"host", "2001:2::1"}, {"host", ""},
	}
	for _, g := range good {
		t.Run(g.field+"="+g.value, func(t *testing.T) {
			if _, err := ParseURI(withField(t, g.field, g.value)); err != nil {
				t.Errorf("%s=%q refused: %v", g.field, g.value, err)
			}
		})
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gw1", "gw1"},
		{"alice@gw1 (knocks knock.example.org)", "alice@gw1 (knocks knock.example.org)"},
		{"café", "café"},
		{"\x1b[2J\x1b]0;x\x07", `\x1b[2J\x1b]0;x\x07`},
		{"a\nb\r\tc\x00\x7f", `a\x0ab\x0d\x09c\x00\x7f`},
		{"\u009b2J", `\x9b2J`},
		{"gw1\u202egpj", `gw1\u202egpj`},
		{"bad\xffutf8", `bad\xffutf8`},
	}
	for _, tt := range tests {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
