package naming

import (
	"regexp"
	"strings"
	"testing"
)

// rules pairs each check with the regular expression it replaces.
var rules = []struct {
	name  string
	check func(string) bool
	re    *regexp.Regexp
}{
	{"ServerID", ServerID, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)},
	{"User", User, regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)},
	{"Host", Host, regexp.MustCompile(`^[A-Za-z0-9.:_-]{1,253}$`)},
	{"Profile", Profile, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)},
}

func TestNames(t *testing.T) {
	tests := []struct {
		in                         string
		serverID, user, host, prof bool
	}{
		{"", false, false, false, false},
		{"gw1", true, true, true, true},
		{"GW-1.example_x", true, false, true, true},
		{"alice@home", false, false, false, true},
		{"-gw", false, false, true, false},
		{".x", false, false, true, false},
		{"2001:db8::1", false, false, true, false},
		{"a b", false, false, false, false},
		{"a\n", false, false, false, false},
		{"\x1b[31m", false, false, false, false},
		{"é", false, false, false, false},
		{strings.Repeat("a", 32), true, true, true, true},
		{strings.Repeat("a", 33), true, false, true, true},
		{strings.Repeat("a", 64), true, false, true, true},
		{strings.Repeat("a", 65), false, false, true, false},
		{strings.Repeat("a", 253), false, false, true, false},
		{strings.Repeat("a", 254), false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			want := []bool{tt.serverID, tt.user, tt.host, tt.prof}
			for i, r := range rules {
				if got := r.check(tt.in); got != want[i] {
					t.Errorf("%s(%q) = %v, want %v", r.name, tt.in, got, want[i])
				}
			}
		})
	}
}

// TestNamesAgreeWithRegexps compares every check with its regular
// expression on all strings of up to three bytes over an alphabet of
// each character class's edges and on lengths around every limit.
func TestNamesAgreeWithRegexps(t *testing.T) {
	const alphabet = "09AZaz.:_-@ \x00/`{~\x7f\xc3\xa9"
	var inputs []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		inputs = append(inputs, prefix)
		if n == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			grow(prefix+alphabet[i:i+1], n-1)
		}
	}
	grow("", 3)
	for _, n := range []int{31, 32, 33, 63, 64, 65, 252, 253, 254} {
		for _, c := range []string{"a", "A", "-", "1"} {
			inputs = append(inputs, strings.Repeat(c, n), "a"+strings.Repeat(c, n-1), "A"+strings.Repeat(c, n-1))
		}
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, in := range inputs {
				if got, want := r.check(in), r.re.MatchString(in); got != want {
					t.Errorf("%s(%q) = %v, the regexp says %v", r.name, in, got, want)
				}
			}
		})
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"gw1", "alice@home", "2001:db8::1", "-x", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, r := range rules {
			if got, want := r.check(in), r.re.MatchString(in); got != want {
				t.Errorf("%s(%q) = %v, the regexp says %v", r.name, in, got, want)
			}
		}
	})
}
