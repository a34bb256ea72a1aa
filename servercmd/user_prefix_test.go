package servercmd

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/config"
)

// TestUserGrantPrefix adds a user with --grant-prefix: the config
// holds grant_prefix, user list shows a GRANT column (only then) and
// user show says what a grant opens.
func TestUserGrantPrefix(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload")
	if out := h.mustRun("", "user", "list", "-c", cfg); strings.Contains(out, "GRANT") {
		t.Errorf("user list without prefix grants has a GRANT column:\n%s", out)
	}
	h.mustRun("", "user", "add", "bob", "-c", cfg, "--no-qr", "--no-reload", "--grant-prefix", "24,64")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "grant_prefix: {v4: 24, v6: 64}") {
		t.Errorf("config lacks bob's grant_prefix:\n%s", data)
	}
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := c.User("bob")
	if diff := cmp.Diff(config.GrantPrefix{V4: 24, V6: 64}, u.GrantPrefix); diff != "" {
		t.Errorf("bob's GrantPrefix (-want +got):\n%s", diff)
	}
	var grant []string
	for _, l := range strings.Split(strings.TrimSpace(h.mustRun("", "user", "list", "-c", cfg)), "\n") {
		f := strings.Fields(l)
		grant = append(grant, f[0]+" "+f[len(f)-1])
	}
	if diff := cmp.Diff([]string{"NAME GRANT", "alice address", "bob /24,/64"}, grant); diff != "" {
		t.Errorf("user list GRANT column (-want +got):\n%s", diff)
	}
	_, stderr, err := h.run("", "user", "show", "bob", "-c", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "grants open /24,/64 around the address (grant_prefix)") {
		t.Errorf("user show's stderr does not name the prefix:\n%s", stderr)
	}
}
