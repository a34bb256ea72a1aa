package clitest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock"
)

// Entry is a program's entry: its Run with the rest of its role's Env
// bound, taking the shared part.
type Entry func(ctx context.Context, args []string, env cli.Env) error

// Result is what one command line did.
type Result struct {
	// Args is the command line that ran.
	Args           []string
	Stdout, Stderr string
	Err            error
	// Code is the exit code Err makes (cli.ExitCode).
	Code int
}

// Env is the cli.Env of a program under test: environment variables
// from vars, version "test", clock c, or the system's when real is set.
func Env(vars map[string]string, c clock.Clock, real bool) cli.Env {
	if real {
		c = clock.System{}
	}
	return cli.Env{Getenv: func(k string) string { return vars[k] }, Clock: c, Version: "test"}
}

// Parts returns r's outputs and error.
func (r Result) Parts() (stdout, stderr string, err error) { return r.Stdout, r.Stderr, r.Err }

// Must returns r's stdout, failing the test when the command line
// failed.
func (r Result) Must(t testing.TB) string {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s: %v", strings.Join(r.Args, " "), r.Err)
	}
	return r.Stdout
}

// Run runs the command line args (without the program's name) through
// entry with env, whose standard streams it replaces: stdin is read
// from the string, stdout and stderr are recorded.
func Run(entry Entry, env cli.Env, stdin string, args ...string) Result {
	var out, errOut bytes.Buffer
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(stdin), &out, &errOut
	err := entry(context.Background(), args, env)
	return Result{Args: args, Stdout: out.String(), Stderr: errOut.String(), Err: err, Code: cli.ExitCode(err)}
}

// InDir returns args with each "{dir}" replaced by dir, for tables
// written before the directory a test runs in is known.
func InDir(dir string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	return out
}
