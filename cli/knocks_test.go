package cli

import (
	"errors"
	"net/netip"
	"testing"
)

func TestSourceArg(t *testing.T) {
	routed := netip.MustParseAddr("198.18.0.7")
	route := func() (netip.Addr, error) { return routed, nil }
	noRoute := func() (netip.Addr, error) { return netip.Addr{}, errors.New("no route") }
	tests := []struct {
		name     string
		value    string
		bound    bool
		fallback func() (netip.Addr, error)
		want     netip.Addr
		err      string
	}{
		{"not bound, no flag", "", false, route, netip.Addr{}, ""},
		{"not bound, flag", "198.18.0.9", false, route, netip.Addr{}, "--flag: profile p is not source-bound"},
		{"bound, flag", "2001:2::9", true, route, netip.MustParseAddr("2001:2::9"), ""},
		{"bound, mapped flag", "::ffff:198.18.0.9", true, nil, netip.MustParseAddr("198.18.0.9"), ""},
		{"bound, bad flag", "nine", true, route, netip.Addr{}, `--flag: "nine" is not an IP address`},
		{"bound, fallback", "", true, route, routed, ""},
		{"bound, failing fallback", "", true, noRoute, netip.Addr{}, "no route"},
		{"bound, no fallback", "", true, nil, netip.Addr{},
			"profile p is source-bound: pass --flag ADDR, the address the server sees the knocks come from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SourceArg("--flag", tt.value, "profile p", tt.bound, tt.fallback)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.err {
				t.Errorf("SourceArg(%q, bound %v) = %v, %q, want %v, %q", tt.value, tt.bound, got, gotErr, tt.want, tt.err)
			}
		})
	}
}
