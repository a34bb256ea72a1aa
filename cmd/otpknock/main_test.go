package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/otpknock/otpknock/internal/netnstest"
	"strings"
	"testing"
)

// bin is the otpknock binary built for this package's tests, in a
// directory every user may enter (tests run it as nobody too).
var bin string

func TestMain(m *testing.M) { os.Exit(netnstest.RunWithBinary(m, ".", &bin)) }

// TestBinary checks the real binary's exit codes and that errors are one
// line on stderr.
func TestBinary(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdout   string
		stderrRE string
	}{
		{[]string{"version"}, 0, " (derivation otpknock/v1", ""},
		{[]string{"--help"}, 0, "otpknock hides services", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
		{[]string{"show", "--bogus"}, 2, "", "otpknock: unknown flag: --bogus"},
		{[]string{"user", "list", "-c", "/nonexistent/config.yaml"}, 2, "", "otpknock: config /nonexistent/config.yaml does not exist"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+filepath.Join(t.TempDir(), "c.yaml"))
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out.String())
			}
			if tt.stderrRE != "" && (!strings.HasPrefix(errb.String(), tt.stderrRE) || strings.Count(errb.String(), "\n") != 1) {
				t.Errorf("stderr = %q, want one line starting %q", errb.String(), tt.stderrRE)
			}
		})
	}
}
