package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/otpknock/otpknock/clock"
)

// Main is the body of the program name: run on the process's arguments,
// standard streams, environment and clock, with a context that SIGINT
// and SIGTERM end; an error is printed in one line, after the program's
// name, and becomes the exit code (ExitCode). version is the one
// stamped at build time ("dev" when not: the module's version of go
// install ...@VERSION is reported then).
func Main(name, version string, run func(context.Context, []string, Env) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Clock: clock.System{}, Version: version, BuildInfo: debug.ReadBuildInfo,
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, Line(name, err))
		os.Exit(ExitCode(err))
	}
}

// Line is the one line program name prints for err: the message after
// the program's name, unless the message names it already.
func Line(name string, err error) string {
	if prefixed(err) {
		return err.Error()
	}
	return name + ": " + err.Error()
}
