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

// bin is the otpknock binary built for this package's tests (otpknockd
// beside it), in a directory every user may enter.
var bin string

func TestMain(m *testing.M) { os.Exit(netnstest.RunWithBinary(m, &bin)) }

// TestBinary checks the real binary's exit codes and that errors are one
// line on stderr.
func TestBinary(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		stdout   string
		stderrRE string
	}{
		{[]string{"version"}, 0, "otpknock dev (derivation otpknock/v1", ""},
		{[]string{"--help"}, 0, "otpknock is the client", ""},
		{[]string{"tui", "--help"}, 0, "otpknock tui [flags]", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
		{[]string{"show", "--bogus"}, 2, "", "otpknock: unknown flag: --bogus"},
		{[]string{"import", "/nonexistent.png"}, 2, "", "otpknock: reading /nonexistent.png"},
		// The server's commands are otpknockd's.
		{[]string{"init", "--server-id", "gw1"}, 2, "", "otpknock init: init is a server command: run otpknockd init"},
		{[]string{"user", "list", "-c", "/nonexistent/config.yaml"}, 2, "", "otpknock user: user is a server command: run otpknockd user"},
		{[]string{"help", "firewall"}, 2, "", "otpknock firewall: firewall is a server command: run otpknockd firewall"},
		{[]string{"server", "--help"}, 2, "", "otpknock server: server is a server command: run otpknockd server"},
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
			if tt.code != 0 && out != "" {
				t.Errorf("a failed command printed %q", out)
			}
		})
	}
}

// TestClientLinks: the otpknock binary links none of the server's
// packages (config, daemon, firewall, listener, matcher, and the
// kernel libraries behind them); each would run its package
// initialisation at every start of the client (BenchmarkStartup). It
// does link the TUI and the QR decoder, which are the client's.
func TestClientLinks(t *testing.T) {
	deps := goListDeps(t, ".")
	for _, pkg := range []string{"github.com/otpknock/otpknock/servercmd", "github.com/otpknock/otpknock/config",
		"github.com/otpknock/otpknock/daemon", "github.com/otpknock/otpknock/firewall", "github.com/otpknock/otpknock/listener",
		"github.com/otpknock/otpknock/matcher", "github.com/vishvananda/netlink", "github.com/google/nftables",
		"github.com/mdlayher/netlink", "github.com/vishvananda/netns", "github.com/coreos/go-iptables/iptables",
		"github.com/VictoriaMetrics/metrics", "net/http"} {
		if slices.Contains(deps, pkg) {
			t.Errorf("otpknock links %s", pkg)
		}
	}
	for _, pkg := range []string{"github.com/otpknock/otpknock/tui", "github.com/otpknock/otpknock/qr", "github.com/makiuchi-d/gozxing/qrcode"} {
		if !slices.Contains(deps, pkg) {
			t.Errorf("otpknock does not link %s: its tui or import of a QR code PNG is missing", pkg)
		}
	}
}

// goListDeps returns the packages the command package pkg links.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
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
