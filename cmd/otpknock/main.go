// Command otpknock is the otpknock client: import a profile (URI or QR
// code PNG), show its sequence, send the knock, knock and connect, and
// the TUI. The server and its administration are otpknockd's. See
// README.md.
package main

import (
	"context"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clientcmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	cli.Main(clientcmd.Name, version, func(ctx context.Context, args []string, env cli.Env) error {
		return clientcmd.Run(ctx, args, clientcmd.Env{Env: env})
	})
}
