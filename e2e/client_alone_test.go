package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientAlone runs otpknock from a directory that holds nothing
// else, with no otpknockd on PATH: it imports the QR code PNG otpknockd
// user add wrote, shows the sequence otpknockd user show expects, prints
// the TUI's help, and refuses a server command in one line naming
// otpknockd. No privileges needed.
func TestClientAlone(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	for _, args := range [][]string{
		{"init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1", "--secrets-dir", filepath.Join(dir, "secrets")},
		{"user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload", "--qr-png", filepath.Join(dir, "alice.png")},
	} {
		if _, stderr, code := runIn(t, bins.Server, nil, args...); code != 0 {
			t.Fatalf("otpknockd %v: exit %d\n%s", args, code, stderr)
		}
	}
	alone := filepath.Join(dir, "alone")
	os.Mkdir(alone, 0o755)
	data, err := os.ReadFile(bins.Client)
	if err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(alone, "otpknock")
	if err := os.WriteFile(client, data, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + alone, "OTPKNOCK_CLIENT_CONFIG=" + filepath.Join(dir, "client.yaml")}

	out, stderr, code := runIn(t, client, env, "import", filepath.Join(dir, "alice.png"))
	if code != 0 || !strings.HasPrefix(out, "Imported profile gw1 (alice@gw1") || stderr != "" {
		t.Errorf("import alice.png: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// One process after the other within a step: retry once across
	// a step's edge.
	var show, want string
	for range 2 {
		var code, wcode int
		show, _, code = runIn(t, client, env, "show")
		want, _, wcode = runIn(t, bins.Server, nil, "user", "show", "alice", "-c", cfg)
		if code != 0 || wcode != 0 || show == "" {
			t.Fatalf("show: exit %d, user show: exit %d", code, wcode)
		}
		if show == want {
			break
		}
	}
	if show != want {
		t.Errorf("otpknock show %q, otpknockd user show %q", show, want)
	}
	if out, _, code := runIn(t, client, env, "tui", "--help"); code != 0 || !strings.Contains(out, "otpknock tui [flags]") {
		t.Errorf("tui --help: exit %d\n%s", code, out)
	}
	_, stderr, code = runIn(t, client, env, "init", "--server-id", "gw2")
	if want := "otpknock init: init is a server command: run otpknockd init\n"; code != 2 || stderr != want {
		t.Errorf("init: exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

// runIn runs name with args, env added to this process's environment,
// and returns its stdout, stderr and exit code.
func runIn(t *testing.T, name string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}
