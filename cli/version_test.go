package cli

import (
	"runtime/debug"
	"testing"
)

func TestResolveVersion(t *testing.T) {
	build := func(v string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Path: "github.com/otpknock/otpknock", Version: v}}, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name    string
		stamped string
		read    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{"make build stamps", "v1.4.0-3-gabc1234", build("(devel)"), "v1.4.0-3-gabc1234"},
		{"stamp wins over the module", "v1.4.0", build("v1.3.0"), "v1.4.0"},
		{"go install @version", "dev", build("v1.3.0"), "v1.3.0"},
		{"go install @pseudo-version", "dev", build("v0.0.0-20250101120000-abcdef012345"), "v0.0.0-20250101120000-abcdef012345"},
		{"empty stamp", "", build("v1.3.0"), "v1.3.0"},
		{"go build in a checkout", "dev", build("(devel)"), "dev"},
		{"no module version", "dev", build(""), "dev"},
		{"no build info", "dev", none, "dev"},
		{"nil build info", "", func() (*debug.BuildInfo, bool) { return nil, true }, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResolveVersion(tt.stamped, tt.read); got != tt.want {
				t.Errorf("ResolveVersion(%q) = %q, want %q", tt.stamped, got, tt.want)
			}
		})
	}
}
