// Command otpknock is port knocking with one-time sequences: the client
// that knocks (import, show, profiles, send, connect), small to start
// fast, as ssh runs it on every login. It hands the server, its
// administration, the TUI and QR code PNGs to otpknockd, which it finds
// beside itself. See README.md.
package main

import "github.com/otpknock/otpknock/cli"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { cli.Main(version, cli.Run) }
