package provision

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// checkRawQuery applies the raw layer of the grammar of docs/spec.md
// section 9.1 to a URI's query: every byte is a qchar, '=', '&' or part
// of a %HH escape, and every non-empty pair has an '='. A pair without
// one would otherwise read as an empty, so absent, field: "exclude"
// alone would derive without the exclusions its writer meant.
func checkRawQuery(raw string) error {
	for i := 0; i < len(raw); i++ {
		if !queryByte(raw[i]) {
			return fmt.Errorf("malformed query: %q at byte %d must be percent-encoded", raw[i], i)
		}
	}
	for _, pair := range strings.Split(raw, "&") {
		if pair != "" && !strings.Contains(pair, "=") {
			return fmt.Errorf("malformed query: %q has no '=': write name=value", pair)
		}
	}
	return nil
}

// queryByte reports whether b may appear raw in a query: a qchar of the
// grammar, the '=' and '&' that separate fields, or the '%' of an escape
// (url.ParseQuery refuses a bad escape).
func queryByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~!$'()*+,:@/?=&%", b) >= 0
}

// checkSpaces refuses whitespace in the decoded value of every field of
// uriFields but secret (spec section 9.1: values hold no spaces; a
// Base32 secret may be grouped with spaces, which DecodeSecret removes).
// One rule for every field: none is trimmed.
func checkSpaces(q url.Values) error {
	for _, name := range uriFields {
		if name == "secret" {
			continue
		}
		if v := q.Get(name); strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			return fmt.Errorf("%s: %q holds a space; URI values have none", name, v)
		}
	}
	return nil
}

// parseBind reads the bind field: absent or 0, not source-bound; 2,
// source-bound under the rules of spec sections 6.1 and 11.3. 1 marks a
// URI written for the source-bound rule before section 6.1's revision,
// whose knocks the server no longer accepts: refused, never read as 2.
func parseBind(s string) (bool, error) {
	switch s {
	case "", "0":
		return false, nil
	case "2":
		return true, nil
	case "1":
		return false, errors.New("bind: 1 is the old source-bound rule, which servers no longer accept: re-provision (ask the server's administrator for a new URI, which has bind=2)")
	}
	return false, fmt.Errorf("bind: %q must be 0 or 2", s)
}
