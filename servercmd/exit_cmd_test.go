package servercmd

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
)

// TestCommandExitCodes runs the server's administration commands
// through Run: errors of flags, arguments, configuration and input exit
// 2, runtime failures (a failed write of a valid request) exit 1.
func TestCommandExitCodes(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness)
		args  []string
		want  int
		msg   string
	}{
		{"init over a config", nil, []string{"init", "-c", "{dir}/config.yaml", "--server-id", "x"}, cli.ExitUsage, "already exists"},
		{"init bad server id", nil, []string{"init", "-c", "{dir}/new.yaml", "--server-id", "a:b"}, cli.ExitUsage, "--server-id"},
		{"init cannot create", func(t *testing.T, h *harness) { writeFile(t, h.path("file"), "") },
			[]string{"init", "-c", "{dir}/file/config.yaml", "--server-id", "x"}, cli.ExitFailure, "creating the config's directory"},
		{"user add exists", nil, []string{"user", "add", "alice", "-c", "{dir}/config.yaml"}, cli.ExitUsage, "already exists"},
		{"user add bad knock", nil, []string{"user", "add", "bob", "-c", "{dir}/config.yaml", "--knock", "x"}, cli.ExitUsage, "--knock"},
		{"user add cannot write the secret", func(t *testing.T, h *harness) {
			os.RemoveAll(h.path("secrets"))
			writeFile(t, h.path("secrets"), "")
		}, []string{"user", "add", "bob", "-c", "{dir}/config.yaml", "--no-qr"}, cli.ExitFailure, "secrets_dir"},
		{"user list missing config", nil, []string{"user", "list", "-c", "{dir}/nope.yaml"}, cli.ExitUsage, "does not exist"},
		{"user show no user", nil, []string{"user", "show", "bob", "-c", "{dir}/config.yaml"}, cli.ExitUsage, `no user "bob"`},
		{"user show missing secret", func(t *testing.T, h *harness) { os.Remove(h.path("secrets/alice.key")) },
			[]string{"user", "show", "alice", "-c", "{dir}/config.yaml"}, cli.ExitUsage, "alice"},
		{"user remove no user", nil, []string{"user", "remove", "bob", "-c", "{dir}/config.yaml"}, cli.ExitUsage, `no user "bob"`},
		{"version extra argument", nil, []string{"version", "x"}, cli.ExitUsage, "want no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := withServer(t)
			if tt.setup != nil {
				tt.setup(t, h)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "{dir}", h.dir)
			}
			_, _, err := h.run("", args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Errorf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEditErrorClass(t *testing.T) {
	w := &config.WriteError{Path: "c.yaml", Err: errors.New("disk full")}
	if got := cli.ExitCode(editError(w)); got != cli.ExitFailure {
		t.Errorf("write failure: exit %d, want 1", got)
	}
	if got := cli.ExitCode(editError(errors.New(`no user "bob"`))); got != cli.ExitUsage {
		t.Errorf("refused edit: exit %d, want 2", got)
	}
}

// TestUnknownSubcommands checks that a command grouping subcommands
// refuses an unknown one in one line, exit 2, and that the aliases run.
func TestUnknownSubcommands(t *testing.T) {
	tests := []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"user", "delete", "alice"}, cli.ExitUsage, `unknown command "delete" for "otpknockd user"`},
		{[]string{"user", "lst"}, cli.ExitUsage, `unknown command "lst" for "otpknockd user" (did you mean list?)`},
		{[]string{"firewall", "foo"}, cli.ExitUsage, `unknown command "foo" for "otpknockd firewall"`},
		{[]string{"serve"}, cli.ExitUsage, `unknown command "serve" for "otpknockd" (did you mean server?)`},
		{[]string{"user"}, cli.ExitOK, ""},
		{[]string{"user", "ls", "-c", "{dir}/config.yaml"}, cli.ExitOK, ""},
		{[]string{"user", "rm", "alice", "-c", "{dir}/config.yaml", "--no-reload", "--yes"}, cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := withServer(t)
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "{dir}", h.dir)
			}
			out, _, err := h.run("", args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Fatalf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if tt.msg == "" {
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line containing %q", err, tt.msg)
			}
			if out != "" {
				t.Errorf("a refused command printed %q", out)
			}
		})
	}
}
