package clientcmd

import (
	"context"
	"errors"
	"io/fs"

	"github.com/otpknock/otpknock/addrwatch"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
)

// Env is the shared Env (cli.Env) and the client's boundaries.
type Env struct {
	cli.Env
	// Writer and Prober replace the kernel packet writer and the TCP
	// dialer of send, connect and tui when set (tests).
	Writer sender.Writer
	Prober sender.Prober
	// Finder, when set, builds the public-address discovery of send,
	// connect and tui instead of STUN over UDP, from the servers --stun
	// names (nil: the defaults) and the cache; it may return nil (no
	// discovery). Tests set it: no STUN request may leave for the
	// public servers.
	Finder func(servers []string, cache *publicaddr.Cache) client.Finder
	// Events, when set, replaces the kernel's address and route events
	// that keep follows (tests).
	Events addrwatch.Events
	// DecodePNG reads the provisioning URI from a QR code PNG (import
	// FILE.png); nil means package qr's decoder.
	DecodePNG func(png []byte) (string, error)
}

// Name is the client program's name.
const Name = "otpknock"

// Run runs the otpknock command line args (without the program name).
// Its errors carry their exit code (cli.ExitCode).
func Run(ctx context.Context, args []string, env Env) error {
	return cli.Execute(ctx, args, env.Env, program(&env))
}

// Root returns otpknock's whole command tree, for tools that document
// it (cmd/otpknock-man).
func Root(env Env) *cobra.Command { return cli.Root(env.Env, program(&env)) }

// program is otpknock, its commands built for env.
func program(env *Env) cli.Program {
	return cli.Program{
		Name:  Name,
		Short: "Knock with one-time sequences: the otpknock client",
		Long: `otpknock hides services behind closed ports. A shared secret and the
current time step derive a one-time knock sequence; the server
(otpknockd) opens the service for the knocking address only, for a
short time.

otpknock is the client: import a profile (its URI, or the QR code PNG
the server's administrator gave you), show its current sequence, send
the knock, or knock and connect (ssh's ProxyCommand); otpknock tui does
it all by hand.`,
		Commands: []cli.Command{
			{Name: "keygen", New: func() *cobra.Command { return newKeygenCmd(env) }},
			{Name: "import", New: func() *cobra.Command { return newImportCmd(env) }},
			{Name: "show", New: func() *cobra.Command { return newShowCmd(env) }},
			{Name: "profiles", New: func() *cobra.Command { return newProfilesCmd(env) }},
			{Name: "send", New: func() *cobra.Command { return newSendCmd(env) }},
			{Name: "connect", New: func() *cobra.Command { return newConnectCmd(env) }},
			{Name: "keep", New: func() *cobra.Command { return newKeepCmd(env) }},
			{Name: "tui", New: func() *cobra.Command { return newTUICmd(env) }},
		},
		Other: "otpknockd", Role: "server", OtherCommands: []string{"init", "user", "server", "firewall"},
		Complete: func(root *cobra.Command) { addCompletions(root, env) },
	}
}

// usage, usageErrorf and args are command's, short for this package.
func usage(err error) error                               { return cli.Usage(err) }
func usageErrorf(format string, a ...any) error           { return cli.UsageErrorf(format, a...) }
func args(min, max int, what string) cobra.PositionalArgs { return cli.Args(min, max, what) }

// knockError classifies an error of sending a knock: missing
// privileges (a raw or ping socket refused) are a matter of
// configuration; anything else, a knock that did not open included, is
// a runtime failure.
func knockError(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return usage(err)
	}
	return err
}
