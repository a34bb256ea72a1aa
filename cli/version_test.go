package cli

import (
	"runtime/debug"
	"strings"
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

// TestVersionFlag checks that --version is the top level's only, with
// no -v, and that -v is --verbose on send and connect.
func TestVersionFlag(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   int
		stdout string // in stdout
		stderr string // in stderr
		msg    string // in the error
	}{
		{"--version", []string{"--version"}, ExitOK, "otpknock version test", "", ""},
		{"-v at the top", []string{"-v"}, ExitUsage, "", "", "unknown shorthand flag: 'v'"},
		{"--version on send", []string{"send", "gw1", "--version"}, ExitUsage, "", "", "unknown flag: --version"},
		{"-v on send is verbose", []string{"send", "gw1", "-v"}, ExitOK, "sent", "knock 1/", ""},
		{"-v on connect is a known flag", []string{"connect", "gw1", "0", "-v"}, ExitUsage, "", "", "PORT:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := withProfile(t, "198.18.0.1")
			out, errOut, err := h.run("", tt.args...)
			if got := ExitCode(err); got != tt.want {
				t.Fatalf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stdout %q, stderr %q: want %q and %q in them", out, errOut, tt.stdout, tt.stderr)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}
