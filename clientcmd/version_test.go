package clientcmd

import (
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

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
		{"--version", []string{"--version"}, cli.ExitOK, "otpknock version test", "", ""},
		{"-v at the top", []string{"-v"}, cli.ExitUsage, "", "", "unknown shorthand flag: 'v'"},
		{"--version on send", []string{"send", "gw1", "--version"}, cli.ExitUsage, "", "", "unknown flag: --version"},
		{"-v on send is verbose", []string{"send", "gw1", "-v"}, cli.ExitOK, "sent", "knock 1/", ""},
		{"-v on connect is a known flag", []string{"connect", "gw1", "0", "-v"}, cli.ExitUsage, "", "", "PORT:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := withProfile(t, "198.18.0.1")
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
