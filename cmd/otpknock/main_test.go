package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"strings"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// bin is the otpknock binary built for this package's tests, in a
// directory every user may enter (tests run it as nobody too).
var bin string

func TestMain(m *testing.M) { os.Exit(netnstest.RunWithBinary(m, ".", &bin)) }

// TestBinary checks the real binary's exit codes and that errors are one
// line on stderr.
func TestBinary(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdout   string
		stderrRE string
	}{
		{[]string{"version"}, 0, " (derivation otpknock/v1", ""},
		{[]string{"--help"}, 0, "otpknock hides services", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
		{[]string{"show", "--bogus"}, 2, "", "otpknock: unknown flag: --bogus"},
		// Handed to otpknockd: its exit code, its one line.
		{[]string{"user", "list", "-c", "/nonexistent/config.yaml"}, 2, "", "otpknock: config /nonexistent/config.yaml does not exist"},
		{[]string{"server", "--help"}, 0, "Run the otpknock server", ""},
		{[]string{"help", "firewall"}, 0, "otpknock firewall [command]", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errb, code := runBinary(t, bin, []string{"OTPKNOCK_CLIENT_CONFIG=" + filepath.Join(t.TempDir(), "c.yaml")}, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errb)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
			if tt.stderrRE != "" && (!strings.HasPrefix(errb, tt.stderrRE) || strings.Count(errb, "\n") != 1) {
				t.Errorf("stderr = %q, want one line starting %q", errb, tt.stderrRE)
			}
		})
	}
}

// TestClientLinks: the otpknock binary links none of what otpknock
// hands to otpknockd: the server's packages, the TUI, the QR decoder.
// Each would run its package initialisation at every start of the
// client (BenchmarkStartup).
func TestClientLinks(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"github.com/otpknock/otpknock/fullcli", "github.com/otpknock/otpknock/config",
		"github.com/otpknock/otpknock/daemon", "github.com/otpknock/otpknock/firewall", "github.com/otpknock/otpknock/listener",
		"github.com/otpknock/otpknock/tui", "github.com/otpknock/otpknock/qr", "github.com/charmbracelet/bubbletea",
		"github.com/makiuchi-d/gozxing", "github.com/vishvananda/netlink", "github.com/google/nftables", "net/http"} {
		if slices.Contains(strings.Fields(string(out)), pkg) {
			t.Errorf("otpknock links %s", pkg)
		}
	}
}

// TestHandoffBinaries runs the real pair: otpknock imports a QR code PNG
// that otpknockd wrote and decodes, and without otpknockd beside it nor
// on PATH, a handed-off command fails with one line naming otpknockd
// and exit 1.
func TestHandoffBinaries(t *testing.T) {
	dir := t.TempDir()
	store := []string{"OTPKNOCK_CLIENT_CONFIG=" + filepath.Join(dir, "client.yaml")}
	cfg := filepath.Join(dir, "config.yaml")
	for _, args := range [][]string{
		{"init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1", "--secrets-dir", filepath.Join(dir, "secrets")},
		{"user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload", "--qr-png", filepath.Join(dir, "alice.png")},
	} {
		if _, stderr, code := runBinary(t, bin, store, args...); code != 0 {
			t.Fatalf("otpknock %v: exit %d\n%s", args, code, stderr)
		}
	}
	out, stderr, code := runBinary(t, bin, store, "import", filepath.Join(dir, "alice.png"))
	if code != 0 || !strings.HasPrefix(out, "Imported profile gw1 (alice@gw1") || stderr != "" {
		t.Errorf("import alice.png: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	alone := filepath.Join(dir, "alone")
	if err := os.Mkdir(alone, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(alone, "otpknock"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runBinary(t, filepath.Join(alone, "otpknock"), append(store, "PATH="+alone), "user", "list", "-c", cfg)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "otpknock: otpknockd runs this command and is not in "+alone) {
		t.Errorf("user list without otpknockd: exit %d, stderr %q", code, stderr)
	}
}

// runBinary runs name with args and env added to this process's
// environment, and returns its stdout, stderr and exit code; failing to
// start it ends the test.
func runBinary(t *testing.T, name string, env []string, args ...string) (stdout, stderr string, code int) {
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
