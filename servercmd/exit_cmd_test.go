package servercmd

import (
	"errors"
	"os"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
	"github.com/otpknock/otpknock/config"
)

// TestCommandExitCodes runs the server's administration commands
// through Run: errors of flags, arguments, configuration and input exit
// 2, runtime failures (a failed write of a valid request) exit 1.
func TestCommandExitCodes(t *testing.T) {
	clitest.Lines(t, withServer, (*harness).in, []clitest.Line[*harness]{
		{Name: "init over a config", Args: []string{"init", "-c", "{dir}/config.yaml", "--server-id", "x"}, Code: cli.ExitUsage, Msg: "already exists"},
		{Name: "init bad server id", Args: []string{"init", "-c", "{dir}/new.yaml", "--server-id", "a:b"}, Code: cli.ExitUsage, Msg: "--server-id"},
		{Name: "init cannot create", Setup: func(t *testing.T, h *harness) { writeFile(t, h.path("file"), "") },
			Args: []string{"init", "-c", "{dir}/file/config.yaml", "--server-id", "x"}, Code: cli.ExitFailure, Msg: "creating the config's directory"},
		{Name: "user add exists", Args: []string{"user", "add", "alice", "-c", "{dir}/config.yaml"}, Code: cli.ExitUsage, Msg: "already exists"},
		{Name: "user add bad knock", Args: []string{"user", "add", "bob", "-c", "{dir}/config.yaml", "--knock", "x"}, Code: cli.ExitUsage, Msg: "--knock"},
		{Name: "user add cannot write the secret", Setup: func(t *testing.T, h *harness) {
			os.RemoveAll(h.path("secrets"))
			writeFile(t, h.path("secrets"), "")
		}, Args: []string{"user", "add", "bob", "-c", "{dir}/config.yaml", "--no-qr"}, Code: cli.ExitFailure, Msg: "secrets_dir"},
		{Name: "user list missing config", Args: []string{"user", "list", "-c", "{dir}/nope.yaml"}, Code: cli.ExitUsage, Msg: "does not exist"},
		{Name: "user show no user", Args: []string{"user", "show", "bob", "-c", "{dir}/config.yaml"}, Code: cli.ExitUsage, Msg: `no user "bob"`},
		{Name: "user show missing secret", Setup: func(t *testing.T, h *harness) { os.Remove(h.path("secrets/alice.key")) },
			Args: []string{"user", "show", "alice", "-c", "{dir}/config.yaml"}, Code: cli.ExitUsage, Msg: "alice"},
		{Name: "user remove no user", Args: []string{"user", "remove", "bob", "-c", "{dir}/config.yaml"}, Code: cli.ExitUsage, Msg: `no user "bob"`},
		{Name: "version extra argument", Args: []string{"version", "x"}, Code: cli.ExitUsage, Msg: "want no arguments"},
	})
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
	clitest.Lines(t, withServer, (*harness).in, []clitest.Line[*harness]{
		{Args: []string{"user", "delete", "alice"}, Code: cli.ExitUsage, Msg: `unknown command "delete" for "otpknockd user"`},
		{Args: []string{"user", "lst"}, Code: cli.ExitUsage, Msg: `unknown command "lst" for "otpknockd user" (did you mean list?)`},
		{Args: []string{"firewall", "foo"}, Code: cli.ExitUsage, Msg: `unknown command "foo" for "otpknockd firewall"`},
		{Args: []string{"serve"}, Code: cli.ExitUsage, Msg: `unknown command "serve" for "otpknockd" (did you mean server?)`},
		{Args: []string{"user"}},
		{Args: []string{"user", "ls", "-c", "{dir}/config.yaml"}},
		{Args: []string{"user", "rm", "alice", "-c", "{dir}/config.yaml", "--no-reload", "--yes"}},
	})
}
