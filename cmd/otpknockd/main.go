// Command otpknockd is the otpknock server and its administration:
// init, user, server and firewall. The client's commands are otpknock's.
// See README.md.
package main

import (
	"context"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/servercmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Main(servercmd.Name, version, func(ctx context.Context, args []string, env cli.Env) error {
		return servercmd.Run(ctx, args, servercmd.Env{Env: env})
	})
}
