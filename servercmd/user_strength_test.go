package servercmd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

// setRange rewrites the knock_range of the config at path: a narrower
// one weakens a blind sweep's work.
func setRange(t *testing.T, path, from, to string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Replace(data, []byte("\nknock_range: "+from+"\n"), []byte("\nknock_range: "+to+"\n"), 1)
	if bytes.Equal(out, data) {
		t.Fatalf("no knock_range: %s line in the config", from)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestProvisioningRefusesWeakConfig: user add and user qr never write a
// URI the server refuses (docs/spec.md section 7). With a knock_range
// that leaves room for one sequence user, the second user add fails with
// exit 2 in one line and writes nothing (no secret, no PNG, no change to
// the config), and user qr fails once the config is weaker still.
func TestProvisioningRefusesWeakConfig(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	setRange(t, cfg, "20000-59999", "20000-36000")
	out := h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload")
	if want := "against a blind sweep with 1 sequence user (minimum 48; these parameters keep it up to 1 sequence user)"; !strings.Contains(out, want) {
		t.Errorf("user add says\n%s\nwant %q", out, want)
	}
	before, _ := os.ReadFile(cfg)
	png := h.path("bob.png")
	stdout, stderr, err := h.run("", "user", "add", "bob", "-c", cfg, "--qr-png", png, "--no-reload")
	if cli.ExitCode(err) != cli.ExitUsage || err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "server refuses") {
		t.Fatalf("user add bob: %v (exit %d), want one line, exit %d, saying the server refuses the config", err, cli.ExitCode(err), cli.ExitUsage)
	}
	if strings.Contains(stdout+stderr, "otpauth://") {
		t.Errorf("a refused user add printed a URI:\n%s%s", stdout, stderr)
	}
	after, _ := os.ReadFile(cfg)
	if !bytes.Equal(before, after) {
		t.Errorf("a refused user add changed the config")
	}
	for _, f := range []string{h.path("secrets/bob.key"), png} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("a refused user add wrote %s", f)
		}
	}
	h.mustRun("", "user", "qr", "alice", "-c", cfg, "--no-qr")
	setRange(t, cfg, "20000-36000", "20000-34000") // weaker than one user allows
	stdout, _, err = h.run("", "user", "qr", "alice", "-c", cfg, "--qr-png", h.path("alice.png"))
	if cli.ExitCode(err) != cli.ExitUsage || err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "server refuses") {
		t.Fatalf("user qr alice on a weak config: %v (exit %d), want one line, exit %d", err, cli.ExitCode(err), cli.ExitUsage)
	}
	if strings.Contains(stdout, "otpauth://") {
		t.Errorf("a refused user qr printed a URI:\n%s", stdout)
	}
	if _, err := os.Stat(h.path("alice.png")); !os.IsNotExist(err) {
		t.Errorf("a refused user qr wrote its PNG")
	}
}

// TestCountsInTheSingular: one user is "1 user", in user list's refusal
// and in user add's advice on a service inside the knock range.
func TestCountsInTheSingular(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload")
	_, _, err := h.run("", "user", "add", "bob", "-c", cfg, "--no-qr", "--no-reload", "--open", "tcp/30000")
	if want := "provision the 1 user again"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("user add in the range: %v, want %q", err, want)
	}
	if err := os.Remove(h.path("secrets/alice.key")); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.run("", "user", "list", "-c", cfg)
	if want := "1 of 1 user has no usable secret (alice)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("user list: %v, want %q", err, want)
	}
}
