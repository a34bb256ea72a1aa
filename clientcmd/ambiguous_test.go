package clientcmd

import (
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

// TestTwoProfilesOneHost: when two profiles knock the host named, send
// and connect refuse in one line (exit 2) that names the profiles and
// --profile, with the command to use: for connect, the ProxyCommand
// line, since ssh's %h cannot name a profile. --profile picks one.
func TestTwoProfilesOneHost(t *testing.T) {
	h, _ := withProfile(t, "198.18.0.1")
	_, uri := fixture(t, "bob", at("198.18.0.1"))
	h.mustRun(uri, "import", "-", "--name", "admin")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"send", "198.18.0.1"}, "2 profiles knock 198.18.0.1 (admin, gw1): pass --profile NAME, e.g. otpknock send 198.18.0.1 --profile admin"},
		{[]string{"connect", "198.18.0.1", "22"}, "2 profiles knock 198.18.0.1 (admin, gw1): pass --profile NAME, e.g. ssh -o ProxyCommand='otpknock connect --profile admin %h %p' 198.18.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			_, _, err := h.run("", tt.args...)
			if cli.ExitCode(err) != cli.ExitUsage || err == nil || err.Error() != tt.want {
				t.Errorf("err = %v (exit %d)\nwant %s (exit 2)", err, cli.ExitCode(err), tt.want)
			}
		})
	}
	if out := h.mustRun("", "send", "198.18.0.1", "--profile", "admin"); !strings.HasPrefix(out, "admin: sent") {
		t.Errorf("send --profile admin: %q", out)
	}
}
