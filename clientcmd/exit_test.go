package clientcmd

import (
	"errors"
	"fmt"
	"github.com/otpknock/otpknock/sender/sendertest"
	"io/fs"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

// TestCommandExitCodes runs the client's commands through Run: errors
// of flags, arguments, configuration and input exit 2, runtime failures
// (a knock that cannot be sent or does not open) exit 1.
func TestCommandExitCodes(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness)
		args  []string
		want  int
		msg   string
	}{
		{"import twice by name", func(t *testing.T, h *harness) {
			_, uri := fixture(t, "bob", nil)
			writeFile(t, h.path("bob.uri"), uri)
		}, []string{"import", "{dir}/bob.uri", "--name", "gw1"}, cli.ExitUsage, "remove it first"},
		{"profiles bad store", func(t *testing.T, h *harness) { writeFile(t, h.env["OTPKNOCK_CLIENT_CONFIG"], "bogus: 1\n") },
			[]string{"profiles"}, cli.ExitUsage, "bogus"},
		{"tui bad store", func(t *testing.T, h *harness) { writeFile(t, h.env["OTPKNOCK_CLIENT_CONFIG"], "bogus: 1\n") },
			[]string{"tui"}, cli.ExitUsage, "bogus"},
		{"show no profile", nil, []string{"show", "nope"}, cli.ExitUsage, `no profile "nope"`},
		{"send bad state", func(t *testing.T, h *harness) { writeFile(t, h.path("client/state.json"), "{") },
			[]string{"send", "gw1"}, cli.ExitUsage, "state"},
		{"send bad source", nil, []string{"send", "gw1", "--public-ip", "x"}, cli.ExitUsage, "--public-ip"},
		{"send fails", func(t *testing.T, h *harness) { h.writer.(*sendertest.Fake).Err = errors.New("no route") },
			[]string{"send", "gw1"}, cli.ExitFailure, "no route"},
		{"send without privileges", func(t *testing.T, h *harness) {
			h.writer.(*sendertest.Fake).Err = fmt.Errorf("icmp knock needs a raw socket: %w", fs.ErrPermission)
		}, []string{"send", "gw1"}, cli.ExitUsage, "raw socket"},
		{"send sent", nil, []string{"send", "gw1"}, cli.ExitOK, ""},
		{"send no profile", nil, []string{"send", "nope.example.org"}, cli.ExitNoProfile, `no profile "nope.example.org"`},
		{"send --profile no profile", nil, []string{"send", "198.18.0.1", "--profile", "nope"}, cli.ExitNoProfile, `no profile "nope"`},
		{"send no profile, bad flag first", nil, []string{"send", "nope", "--retries", "99"}, cli.ExitUsage, "--retries"},
		{"connect no profile", nil, []string{"connect", "nope.example.org", "22"}, cli.ExitNoProfile, `no profile "nope.example.org"`},
		{"keep bad every", nil, []string{"keep", "gw1", "--every", "5s"}, cli.ExitUsage, "--every"},
		{"keep no profile", nil, []string{"keep", "nope"}, cli.ExitNoProfile, `no profile "nope"`},
		{"keep bad state", func(t *testing.T, h *harness) { writeFile(t, h.path("client/state.json"), "{") },
			[]string{"keep", "gw1"}, cli.ExitUsage, "state"},
		{"connect bad timeout", nil, []string{"connect", "gw1", "22", "--timeout", "0s"}, cli.ExitUsage, "--timeout"},
		{"version extra argument", nil, []string{"version", "x"}, cli.ExitUsage, "want no arguments"},
		{"a server command", nil, []string{"init", "--server-id", "x"}, cli.ExitUsage, "otpknock init: init is a server command: run otpknockd init"},
		{"help of a server command", nil, []string{"help", "user"}, cli.ExitUsage, "otpknock user: user is a server command: run otpknockd user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := withProfile(t, "198.18.0.1")
			if tt.setup != nil {
				tt.setup(t, h)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "{dir}", h.dir)
			}
			out, _, err := h.run("", args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Errorf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
			if tt.want != cli.ExitOK && out != "" {
				t.Errorf("a refused command printed %q", out)
			}
		})
	}
}

// TestUnknownSubcommands checks that profiles refuses an unknown
// subcommand in one line, exit 2, and that the aliases run.
func TestUnknownSubcommands(t *testing.T) {
	tests := []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"profiles", "bar"}, cli.ExitUsage, `unknown command "bar" for "otpknock profiles"`},
		{[]string{"sned"}, cli.ExitUsage, `unknown command "sned" for "otpknock" (did you mean send?)`},
		{[]string{"profiles", "ls"}, cli.ExitUsage, `unknown command "ls" for "otpknock profiles"`},
		{[]string{"profiles"}, cli.ExitOK, ""},
		{[]string{"profiles", "rm", "gw1"}, cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h, _ := withProfile(t, "198.18.0.1")
			_, _, err := h.run("", tt.args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Fatalf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n")) {
				t.Errorf("err = %q, want one line containing %q", err, tt.msg)
			}
		})
	}
}
