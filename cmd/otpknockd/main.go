// Command otpknockd runs every otpknock command: the server, its
// administration, the TUI, reading QR code PNGs, and the client's
// commands. otpknock, the client, hands it what it leaves out to start
// fast; its command line is otpknock's. See README.md.
package main

import (
	"context"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/fullcli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Main(version, func(ctx context.Context, args []string, env cli.Env) error {
		return fullcli.Run(ctx, args, fullcli.Env{Env: env})
	})
}
