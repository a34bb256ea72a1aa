package clitest

import (
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
)

// Line is a command line and what it must do.
type Line[H any] struct {
	// Name names the subtest; the command line when empty.
	Name string
	// Setup prepares the program before the line runs; nil for nothing.
	Setup func(t *testing.T, h H)
	Args  []string
	// Code is the exit code.
	Code int
	// Msg is in the error, when set.
	Msg string
	// Stdout and Stderr are in the outputs, when set.
	Stdout, Stderr string
	// Help: the line prints its usage.
	Help bool
}

// Lines runs each line as a subtest on a program start makes for it,
// through run, and checks its exit code, error and outputs. Every
// refused line (an exit code other than cli.ExitOK) must print nothing
// on stdout, and every error must be one line.
func Lines[H any](t *testing.T, start func(t *testing.T) H, run func(h H, args ...string) Result, lines []Line[H]) {
	t.Helper()
	for _, l := range lines {
		name := l.Name
		if name == "" {
			name = strings.Join(l.Args, " ")
		}
		t.Run(name, func(t *testing.T) {
			h := start(t)
			if l.Setup != nil {
				l.Setup(t, h)
			}
			l.check(t, run(h, l.Args...))
		})
	}
}

// check compares r with what l wants.
func (l Line[H]) check(t *testing.T, r Result) {
	t.Helper()
	if r.Code != l.Code {
		t.Errorf("exit code %d, want %d (err %v)", r.Code, l.Code, r.Err)
	}
	if l.Msg != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), l.Msg)) {
		t.Errorf("err = %v, want one containing %q", r.Err, l.Msg)
	}
	if r.Err != nil && strings.Contains(r.Err.Error(), "\n") {
		t.Errorf("err = %q, want one line", r.Err)
	}
	if l.Code != cli.ExitOK && r.Stdout != "" {
		t.Errorf("a refused command printed %q", r.Stdout)
	}
	if !strings.Contains(r.Stdout, l.Stdout) || !strings.Contains(r.Stderr, l.Stderr) {
		t.Errorf("stdout %q, stderr %q: want %q and %q in them", r.Stdout, r.Stderr, l.Stdout, l.Stderr)
	}
	if l.Help && !strings.Contains(r.Stdout, "Usage:") {
		t.Errorf("no help printed:\n%s", r.Stdout)
	}
}
