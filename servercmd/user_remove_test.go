package servercmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
)

// TestUserRemoveConfirms: user remove asks on a terminal and removes
// only on yes; without a terminal it refuses in one line naming --yes;
// a removal keeps the secret in secrets/removed/alice.key.TIME (mode
// 0600, the same secret) and prints how to undo it. A refusal or a no
// changes nothing.
func TestUserRemoveConfirms(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		stdin    string
		yes      bool
		exit     int
		msg      string // in the error, or in stdout when removed
	}{
		{"yes on a terminal", true, "y\n", false, cli.ExitOK, "To undo: mv "},
		{"YES on a terminal", true, "YES\n", false, cli.ExitOK, "their secret is kept in "},
		{"no on a terminal", true, "n\n", false, cli.ExitFailure, "not removed: not confirmed"},
		{"enter on a terminal", true, "\n", false, cli.ExitFailure, "not removed"},
		{"end of input on a terminal", true, "", false, cli.ExitFailure, "not removed"},
		{"no terminal", false, "y\n", false, cli.ExitUsage, "standard input is not a terminal to confirm on; pass --yes"},
		{"--yes, no terminal", false, "", true, cli.ExitOK, "To undo: mv "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.path("config.yaml")
			h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
			h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload", "--from", "198.18.0.0/15")
			secret, _ := os.ReadFile(h.path("secrets/alice.key"))
			before, _ := os.ReadFile(cfg)
			h.stdinTerminal = tt.terminal
			args := []string{"user", "remove", "alice", "-c", cfg, "--no-reload"}
			if tt.yes {
				args = append(args, "--yes")
			}
			stdout, stderr, err := h.run(tt.stdin, args...)
			if got := cli.ExitCode(err); got != tt.exit {
				t.Fatalf("exit %d (%v), want %d", got, err, tt.exit)
			}
			if tt.terminal && !strings.Contains(stderr, "Remove user alice from "+cfg+"?") {
				t.Errorf("no question on the terminal: %q", stderr)
			}
			if tt.exit != cli.ExitOK {
				if err == nil || !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %v, want one line with %q", err, tt.msg)
				}
				after, _ := os.ReadFile(cfg)
				kept, _ := os.ReadFile(h.path("secrets/alice.key"))
				if !bytes.Equal(before, after) || !bytes.Equal(secret, kept) {
					t.Errorf("a removal not done changed the config or the secret")
				}
				return
			}
			if !strings.Contains(stdout, tt.msg) {
				t.Errorf("stdout lacks %q:\n%s", tt.msg, stdout)
			}
			c, err := config.Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := c.User("alice"); ok {
				t.Errorf("alice is still in the config")
			}
			kept, _ := filepath.Glob(h.path("secrets/removed/alice.key.*"))
			if len(kept) != 1 {
				t.Fatalf("kept secrets %q, want one", kept)
			}
			st, _ := os.Stat(kept[0])
			data, _ := os.ReadFile(kept[0])
			if st.Mode().Perm() != 0o600 || !bytes.Equal(data, secret) {
				t.Errorf("kept secret mode %v, same secret %v; want 0600 and the same", st.Mode().Perm(), bytes.Equal(data, secret))
			}
			if want := "To undo: mv " + kept[0] + " " + h.path("secrets/alice.key") + ", add - {name: alice, open: [tcp/22], from: [198.18.0.0/15]} under users: in " + cfg; !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		})
	}
}
