package servercmd

import (
	"os"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
)

// TestInitHost checks init's --host: what is written for a good one, and
// a one-line usage error with nothing written for a bad one.
func TestInitHost(t *testing.T) {
	tests := []struct {
		host string
		want string // the config's host; "" with msg: refused
		msg  string
	}{
		{"knock.example.org", "knock.example.org", ""},
		{"198.18.0.1", "198.18.0.1", ""},
		{"2001:2::1", "2001:2::1", ""},
		{"[2001:2::1]", "2001:2::1", ""},
		{"name:2222", "", "without a port"},
		{"198.18.0.1:2222", "", "without a port"},
		{"&a", "", "not a host name"},
		{"bad host!", "", "not a host name"},
		{"[name]", "", "bracketed IPv6"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			h := newHarness(t)
			cfg := h.path("config.yaml")
			_, _, err := h.run("", "init", "-c", cfg, "--server-id", "gw1", "--host", tt.host)
			if tt.msg != "" {
				if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "--host") {
					t.Fatalf("init --host %q: %v (exit %d), want exit %d naming --host and %q", tt.host, err, cli.ExitCode(err), cli.ExitUsage, tt.msg)
				}
				if _, err := os.Stat(cfg); !os.IsNotExist(err) {
					t.Errorf("a refused init wrote %s (%v)", cfg, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("init --host %q: %v", tt.host, err)
			}
			c, err := config.Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.Host != tt.want {
				t.Errorf("host %q, want %q", c.Host, tt.want)
			}
		})
	}
}

// TestUserListUnusableSecrets checks that user list prints every user
// and fails with a usage error naming those whose secret the server
// would refuse.
func TestUserListUnusableSecrets(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	for _, u := range []string{"alice", "bob", "carol"} {
		h.mustRun("", "user", "add", u, "-c", cfg, "--no-qr", "--no-reload")
	}
	out, _, err := h.run("", "user", "list", "-c", cfg)
	if err != nil || strings.Count(out, "ok (256 bits)") != 3 {
		t.Fatalf("user list with good secrets: %v\n%s", err, out)
	}
	if err := os.Chmod(h.path("secrets/alice.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(h.path("secrets/carol.key")); err != nil {
		t.Fatal(err)
	}
	out, _, err = h.run("", "user", "list", "-c", cfg)
	if cli.ExitCode(err) != cli.ExitUsage {
		t.Fatalf("user list with bad secrets: exit %d (%v), want %d", cli.ExitCode(err), err, cli.ExitUsage)
	}
	if want := "2 of 3 users have no usable secret (alice, carol)"; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q, want one line with %q", err, want)
	}
	for _, want := range []string{"alice", "BAD:", "bob", "ok (256 bits)", "carol", "MISSING"} {
		if !strings.Contains(out, want) {
			t.Errorf("user list output lacks %q:\n%s", want, out)
		}
	}
}
