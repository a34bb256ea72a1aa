// Command otpknock is port knocking with one-time sequences: the server
// daemon, its administration, and the client. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock"
)

// version is set at build time with -ldflags "-X main.version=..."; left
// "dev", the module version of go install ...@VERSION is reported.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Clock: clock.System{}, Version: cli.ResolveVersion(version, debug.ReadBuildInfo),
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "otpknock:", err)
		os.Exit(cli.ExitCode(err))
	}
}
