package servercmd

import (
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

// TestVersionFlag checks that --version is the top level's only, with
// no -v, and that version names otpknockd.
func TestVersionFlag(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   int
		stdout string // in stdout
		stderr string // in stderr
		msg    string // in the error
	}{
		{"--version", []string{"--version"}, cli.ExitOK, "otpknockd version test", "", ""},
		{"version", []string{"version"}, cli.ExitOK, "otpknockd test (derivation otpknock/v", "", ""},
		{"-v at the top", []string{"-v"}, cli.ExitUsage, "", "", "unknown shorthand flag: 'v'"},
		{"--version on user list", []string{"user", "list", "--version"}, cli.ExitUsage, "", "", "unknown flag: --version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := withServer(t)
			out, errOut, err := h.run("", tt.args...)
			if got := cli.ExitCode(err); got != tt.want {
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
