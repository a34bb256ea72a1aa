package cli

import (
	"bytes"
	"context"
	"io"
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

// TestVersionRead: version and --version report the module version
// from the build information; other commands never read it.
func TestVersionRead(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // on stdout; "" when the build information is not read
	}{
		{[]string{"version"}, "toy v1.2.3 ("},
		{[]string{"--version"}, "toy version v1.2.3\n"},
		{[]string{"--version=true"}, "toy version v1.2.3\n"},
		{[]string{"greet"}, ""},
		{[]string{"greet", "--help"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			reads := 0
			var out bytes.Buffer
			err := Execute(context.Background(), tc.args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard,
				Getenv: func(string) string { return "" }, Version: "dev",
				BuildInfo: func() (*debug.BuildInfo, bool) {
					reads++
					return &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true
				}}, toy(&out))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && reads != 0 {
				t.Errorf("the build information was read %d times", reads)
			}
			if tc.want != "" && !strings.HasPrefix(out.String(), tc.want) {
				t.Errorf("stdout %q, want it to start with %q", out.String(), tc.want)
			}
		})
	}
}
