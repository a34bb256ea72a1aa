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

// Main is the body of the otpknock and otpknockd programs: run (Run, or
// otpknockd's) on the process's arguments, standard streams, environment
// and clock, with a context that SIGINT and SIGTERM end; an error is
// printed in one line (none when otpknockd, handed the command, has
// said it) and becomes the exit code (ExitCode). version is the one
// stamped at build time ("dev" when not: the module's version of go
// install ...@VERSION is reported then).
func Main(version string, run func(context.Context, []string, Env) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Clock: clock.System{}, Version: version, BuildInfo: debug.ReadBuildInfo,
	})
	stop()
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "otpknock:", msg)
		}
		os.Exit(ExitCode(err))
	}
}
