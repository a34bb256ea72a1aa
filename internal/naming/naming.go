package naming

import "strings"

// Longest names.
const (
	MaxServerID = 64
	MaxUser     = 32
	MaxHost     = 253
	MaxProfile  = 64
)

// ServerID reports whether s is a server id: 1-64 of A-Z a-z 0-9 . _ -,
// starting with a letter or digit.
func ServerID(s string) bool { return word(s, MaxServerID, false, "._-") }

// User reports whether s is a user name: 1-32 of a-z 0-9 . _ -, starting
// with a letter or digit.
func User(s string) bool { return word(s, MaxUser, true, "._-") }

// Host reports whether s may be a host name or address: 1-253 of
// A-Z a-z 0-9 . : _ -.
func Host(s string) bool { return chars(s, MaxHost, false, ".:_-") }

// Profile reports whether s is a client profile name: 1-64 of
// A-Z a-z 0-9 . _ @ -, starting with a letter or digit.
func Profile(s string) bool { return word(s, MaxProfile, false, "._@-") }

// word reports whether s is chars(s, max, lower, extra) and starts with
// a letter or digit.
func word(s string, max int, lower bool, extra string) bool {
	return s != "" && alnum(s[0], lower) && chars(s, max, lower, extra)
}

// chars reports whether s is 1 to max bytes, each an ASCII letter (a-z
// only when lower), a digit or one of extra.
func chars(s string, max int, lower bool, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !alnum(s[i], lower) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

func alnum(c byte, lower bool) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || !lower && 'A' <= c && c <= 'Z'
}
