// Command otpknock is port knocking with one-time sequences: the client
// that knocks (import, show, profiles, send, connect), small to start
// fast, as ssh runs it on every login. It hands the server, its
// administration, the TUI and QR code PNGs to otpknockd, which it finds
// beside itself. See README.md.
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
		Getenv: os.Getenv, Clock: clock.System{}, Version: version, BuildInfo: debug.ReadBuildInfo,
	})
	stop()
	if err != nil {
		if msg := err.Error(); msg != "" { // otpknockd has spoken
			fmt.Fprintln(os.Stderr, "otpknock:", msg)
		}
		os.Exit(cli.ExitCode(err))
	}
}
