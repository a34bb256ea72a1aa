package fullcli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/qr"
	"github.com/spf13/cobra"
)

// Env is the client's Env (cli.Env) and the server's kernel boundaries.
type Env struct {
	cli.Env
	// Firewall and Packets open the server's kernel boundaries for
	// server and firewall status|lock|remove; nil means the kernel's
	// (firewall.Open for the config's firewall key; listener.Open on the
	// config's NFLOG group),
	// and server then first checks for root or CAP_NET_ADMIN. A source
	// that is an io.Closer is closed when the server ends.
	Firewall func() (firewall.Backend, error)
	Packets  func(group uint16) (listener.Source, error)
	// Hangup delivers the server's reload requests; nil means the
	// process's SIGHUP.
	Hangup <-chan os.Signal
	// Systemctl and Signal replace running systemctl and signalling a
	// process when user add|remove reload a running server (tests).
	Systemctl func(args ...string) error
	Signal    func(pid int, sig os.Signal) error
	// Listening returns the services a socket on this host serves now
	// (user add warns before guarding one); nil means the kernel's
	// tables (/proc/net on Linux).
	Listening func() (map[derive.Knock]bool, error)
}

// Run runs the otpknock command line args (without the program name),
// every command in this process. Its errors carry their exit code
// (cli.ExitCode).
func Run(ctx context.Context, args []string, env Env) error {
	if env.DecodePNG == nil {
		env.DecodePNG = qr.DecodePNG
	}
	cli.CheckClientVersion(&env.Env)
	return cli.Execute(ctx, args, env.Env, commands(&env))
}

// Root returns the whole otpknock command tree, for tools that document
// it (cmd/otpknock-man).
func Root(env Env) *cobra.Command { return cli.Root(env.Env, commands(&env)) }

// commands are the commands otpknock hands to otpknockd, built for env.
func commands(env *Env) []cli.Command {
	return []cli.Command{
		{Name: "init", New: func(*cli.Env) *cobra.Command { return newInitCmd(env) }},
		{Name: "user", New: func(*cli.Env) *cobra.Command { return newUserCmd(env) }},
		{Name: "server", New: func(*cli.Env) *cobra.Command { return newServerCmd(env) }},
		{Name: "firewall", New: func(*cli.Env) *cobra.Command { return newFirewallCmd(env) }},
		{Name: "tui", New: func(*cli.Env) *cobra.Command { return newTUICmd(env) }},
		{Name: cli.DecodeQRCommand, New: func(*cli.Env) *cobra.Command { return newDecodeQRCmd(env) }},
	}
}

// summary is the one-line summary of a command otpknock hands off,
// which otpknock's help shows too.
func summary(name string) string {
	s, _ := cli.HandoffSummary(name)
	return s
}

// newDecodeQRCmd is the hidden command otpknock's import runs to read a
// QR code PNG: the PNG on standard input, the URI on standard output.
func newDecodeQRCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:    cli.DecodeQRCommand,
		Short:  "Print the provisioning URI of the QR code PNG on standard input",
		Hidden: true,
		Args:   cli.Args(0, 0, "no arguments (the PNG on standard input)"),
		RunE: func(*cobra.Command, []string) error {
			uri, err := qr.ReadPNG(env.Stdin)
			if err != nil {
				return cli.Usage(err)
			}
			_, err = fmt.Fprintln(env.Stdout, strings.TrimSpace(uri))
			return err
		},
	}
}

// firewall opens the server's firewall backend for the config's
// firewall key (auto, nftables or iptables): Env's, or the one
// firewall.Open picks. why says which and why, in one line.
func (env *Env) firewall(mode string) (fw firewall.Backend, why string, err error) {
	if env.Firewall != nil {
		fw, err := env.Firewall()
		return fw, fmt.Sprintf("%T (set by the caller)", fw), err
	}
	return firewall.Open(mode)
}

// packets opens the server's packet source for an NFLOG group: Env's,
// or the kernel's.
func (env *Env) packets(group uint16) (listener.Source, error) {
	if env.Packets != nil {
		return env.Packets(group)
	}
	src, err := listener.Open(listener.DefaultOptions(group))
	if err != nil {
		return nil, err
	}
	return src, nil
}

// kernel says whether the server's boundaries are the kernel's.
func (env *Env) kernel() bool { return env.Firewall == nil && env.Packets == nil }

// hangups returns the channel of reload requests and the function that
// stops it: Env's, or the process's SIGHUP.
func (env *Env) hangups() (<-chan os.Signal, func()) {
	if env.Hangup != nil {
		return env.Hangup, func() {}
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}
