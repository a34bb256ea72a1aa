// Command otpknockd runs every otpknock command: the server, its
// administration, the TUI, reading QR code PNGs, and the client's
// commands. otpknock, the client, hands it what it leaves out to start
// fast; its command line is otpknock's. See README.md.
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
	"github.com/otpknock/otpknock/fullcli"
)

// version is set at build time with -ldflags "-X main.version=..."; left
// "dev", the module version of go install ...@VERSION is reported.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := fullcli.Run(ctx, os.Args[1:], fullcli.Env{Env: cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Clock: clock.System{}, Version: version, BuildInfo: debug.ReadBuildInfo,
	}})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "otpknock:", err)
		os.Exit(cli.ExitCode(err))
	}
}
