package servercmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/listener"
	"github.com/spf13/cobra"
)

// Env is the shared Env (cli.Env) and the server's kernel boundaries.
type Env struct {
	cli.Env
	// Firewall and Packets open the server's kernel boundaries for
	// server (and its --check) and firewall status|lock|remove; nil
	// means the kernel's
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
	// StateDir is where firewall remove looks for a running server's
	// pid file when the config does not load; "" means the directory
	// of config.DefaultStateFile.
	StateDir string
	// Listening returns the services a socket on this host serves now
	// (user add warns before guarding one); nil means the kernel's
	// tables (/proc/net on Linux).
	Listening func() (map[derive.Knock]bool, error)
	// Service returns the account the packaged unit runs the server as
	// (user and group otpknock), nil when there is none or when not
	// root; nil Service means the user database.
	Service func() (*config.Account, error)
	// Terminal returns the width in columns of the terminal v (Stdin,
	// Stdout) is, and whether it is one; nil means the kernel's.
	Terminal func(v any) (columns int, ok bool)
	// Fleet is the store fleet and audit --fleet use; nil connects to
	// the config's NATS servers.
	Fleet fleet.Store
}

// Name is the server program's name.
const Name = "otpknockd"

// Run runs the otpknockd command line args (without the program name).
// Its errors carry their exit code (cli.ExitCode).
func Run(ctx context.Context, args []string, env Env) error {
	return cli.Execute(ctx, args, env.Env, program(&env))
}

// Root returns otpknockd's whole command tree, for tools that document
// it (cmd/otpknock-man).
func Root(env Env) *cobra.Command { return cli.Root(env.Env, program(&env)) }

// program is otpknockd, its commands built for env.
func program(env *Env) cli.Program {
	return cli.Program{
		Name:  Name,
		Short: "The otpknock server and its administration",
		Long: `otpknockd hides services behind closed ports. A shared secret and the
current time step derive a one-time knock sequence; otpknockd opens the
service for the knocking address only, for a short time.

otpknockd is the server: otpknockd init writes its config, otpknockd
user add|list|show|qr|remove manages the users and prints the URI or QR
code each imports with the client (otpknock import), otpknockd server
runs it, and otpknockd firewall status|lock|remove shows or changes its
firewall table. In a fleet (the config's fleet section), otpknockd user
add|list|remove enroll users once for every member, otpknockd fleet
lists the members and gives later ones their users, and otpknockd audit
follows the grants and refusals. The client's commands are
otpknock's.`,
		Commands: []cli.Command{
			{Name: "init", New: func() *cobra.Command { return newInitCmd(env) }},
			{Name: "user", New: func() *cobra.Command { return newUserCmd(env) }},
			{Name: "server", New: func() *cobra.Command { return newServerCmd(env) }},
			{Name: "firewall", New: func() *cobra.Command { return newFirewallCmd(env) }},
			{Name: "fleet", New: func() *cobra.Command { return newFleetCmd(env) }},
			{Name: "audit", New: func() *cobra.Command { return newAuditCmd(env) }},
		},
		Other: "otpknock", Role: "client",
		OtherCommands: []string{"import", "show", "profiles", "send", "connect", "tui"},
	}
}

// summary is the one-line summary of the top-level command name.
func summary(name string) string {
	switch name {
	case "init":
		return "Write a commented default server config"
	case "user":
		return "Add, list, show, rekey and remove the users (a fleet's, in a fleet); print their URI again"
	case "server":
		return "Run the knock server: watch knocks, open services for their senders"
	case "firewall":
		return "Show, lock or remove the server's firewall table or chain, sets and grants"
	case "fleet":
		return "Administer a fleet: the admin key, its members, users for members added later"
	case "audit":
		return "Print the audit log of grants and refusals, or the fleet's, and follow it"
	}
	return ""
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
