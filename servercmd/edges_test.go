package servercmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
)

// TestUserRemoveKeepsSecret: user remove keeps the secret aside in
// secrets/removed; without a secret file it says so; when it cannot
// keep it aside (removed is a file, the kept name is taken) the user is
// gone from the config, exit 1 says why, and the secret stays in place.
func TestUserRemoveKeepsSecret(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, h *harness) // before the removal
		out   string                         // stdout's first line ("" on failure)
		err   string                         // the error; "" for none
	}{
		{"no secret file", func(t *testing.T, h *harness) { removeFile(t, h.path("secrets/alice.key")) },
			"Removed user alice from CFG (there was no secret file DIR/secrets/alice.key).", ""},
		{"removed is a file", func(t *testing.T, h *harness) { writeFile(t, h.path("secrets/removed"), "") },
			"", "user alice removed from CFG, but keeping the secret aside failed: DIR/secrets/removed is not a directory"},
		{"kept name taken", func(t *testing.T, h *harness) {
			if err := os.Mkdir(h.path("secrets/removed"), 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, h.path("secrets/removed/alice.key."+h.clock.Now().UTC().Format("20060102T150405Z")), "older")
		}, "", "user alice removed from CFG, but keeping the secret aside failed: DIR/secrets/removed/alice.key.20270115T080010Z already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := withServer(t)
			cfg := h.path("config.yaml")
			secret, _ := os.ReadFile(h.path("secrets/alice.key"))
			tt.spoil(t, h)
			stdout, _, err := h.run("", "user", "remove", "alice", "-c", cfg, "--yes", "--no-reload")
			clean := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, cfg, "CFG"), h.dir, "DIR") }
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || clean(err.Error()) != tt.err || cli.ExitCode(err) != cli.ExitFailure) {
				t.Errorf("err = %v (exit %d), want %q", err, cli.ExitCode(err), tt.err)
			}
			if first, _, _ := strings.Cut(stdout, "\n"); clean(first) != tt.out {
				t.Errorf("stdout %q, want first line %q", stdout, tt.out)
			}
			if c, err := config.Load(cfg); err != nil || len(c.Users) != 0 {
				t.Errorf("config after remove: %v users, err %v; want none", c, err)
			}
			if tt.err != "" {
				if kept, _ := os.ReadFile(h.path("secrets/alice.key")); string(kept) != string(secret) {
					t.Errorf("the secret did not stay in place")
				}
			}
		})
	}
}

// TestUserListEmpty: user list of a config without users says how to
// add one.
func TestUserListEmpty(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	if got, want := h.mustRun("", "user", "list", "-c", cfg), "No users in "+cfg+". Add one with: otpknockd user add NAME --open tcp/22\n"; got != want {
		t.Errorf("user list:\n%q\nwant:\n%q", got, want)
	}
}

// TestFirewallLockNoServices: firewall lock of a config without users
// installs the lock, which drops nothing, and says so.
func TestFirewallLockNoServices(t *testing.T) {
	s := newFakeServer(t)
	path := filepath.Join(filepath.Dir(s.path), "empty.yaml")
	if _, err := config.WriteInit(path, config.InitOptions{ServerID: "gw1", Host: "198.18.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.run(context.Background(), "firewall", "lock", "-c", path); err != nil {
		t.Fatal(err)
	}
	if got, want := s.stdout.String(), "Locked: the config protects no service yet; the chain OTPKNOCK drops nothing.\n"; got != want {
		t.Errorf("firewall lock:\n%q\nwant:\n%q", got, want)
	}
	if got, want := s.fw.String(), "installed=true nflog=false setups=1\nlock "; got != want {
		t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
	}
}

// TestServerLogFlags: --log-format json logs one JSON object a line,
// its start and stop among them; a bad level is exit 2 naming the flag.
func TestServerLogFlags(t *testing.T) {
	s := newFakeServer(t)
	if err := s.run(context.Background(), "server", "-c", s.path, "--log-level", "loud"); cli.ExitCode(err) != cli.ExitUsage || err.Error() != `--log-level: "loud" must be debug, info, warn or error` {
		t.Errorf("bad --log-level: %v (exit %d)", err, cli.ExitCode(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, "server", "-c", s.path, "--log-format", "json") }()
	wait, stopWait := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopWait()
	if err := s.clock.WaitTickers(wait, 2); err != nil {
		t.Fatalf("the server never started: %v\n%s", err, s.stderr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v\n%s", err, s.stderr)
	}
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q is no JSON: %v", l, err)
		}
		if rec.Msg == "started" || rec.Msg == "stopped" {
			msgs = append(msgs, rec.Level+" "+rec.Msg)
		}
	}
	if diff := cmp.Diff([]string{"INFO started", "INFO stopped"}, msgs); diff != "" {
		t.Errorf("JSON log (-want +got):\n%s\n%s", diff, s.stderr)
	}
}
