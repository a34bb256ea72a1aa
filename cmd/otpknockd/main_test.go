package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bin is the otpknockd binary built for this package's tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "otpknockd-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "otpknockd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		os.Stderr.Write(out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBinary checks the real binary's exit codes and that errors are one
// line on stderr, after the program's name.
func TestBinary(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string // how the one line on stderr starts
	}{
		{[]string{"version"}, 0, "otpknockd dev (derivation otpknock/v1", ""},
		{[]string{"--help"}, 0, "otpknockd is the server", ""},
		{[]string{"user", "add", "--help"}, 0, "otpknockd user add NAME", ""},
		{[]string{"completion", "bash"}, 0, "bash completion V2 for otpknockd", ""},
		{[]string{"user", "list", "-c", "/nonexistent/config.yaml"}, 2, "", "otpknockd: config /nonexistent/config.yaml does not exist (create one with otpknockd init)"},
		{[]string{"server", "--bogus"}, 2, "", "otpknockd: unknown flag: --bogus"},
		// The client's commands are otpknock's.
		{[]string{"send", "gw1"}, 2, "", "otpknockd send: send is a client command: run otpknock send"},
		{[]string{"tui"}, 2, "", "otpknockd tui: tui is a client command: run otpknock tui"},
		{[]string{"import", "alice.png"}, 2, "", "otpknockd import: import is a client command: run otpknock import"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			code := 0
			if err := cmd.Run(); err != nil {
				ee, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatal(err)
				}
				code = ee.ExitCode()
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out.String())
			}
			if tt.stderr != "" && (!strings.HasPrefix(errb.String(), tt.stderr) || strings.Count(errb.String(), "\n") != 1) {
				t.Errorf("stderr = %q, want one line starting %q", errb.String(), tt.stderr)
			}
		})
	}
}

// TestServerLinks: otpknockd links no TUI (Bubble Tea, package tui) and
// none of the client's commands.
func TestServerLinks(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Fields(string(out))
	for _, pkg := range []string{"github.com/otpknock/otpknock/tui", "github.com/otpknock/otpknock/clientcmd",
		"github.com/charmbracelet/bubbletea", "github.com/charmbracelet/bubbles/textinput", "github.com/charmbracelet/lipgloss"} {
		if slices.Contains(deps, pkg) {
			t.Errorf("otpknockd links %s", pkg)
		}
	}
}
