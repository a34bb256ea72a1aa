package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is everything a command reads from or writes to its surroundings.
type Env struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Getenv  func(string) string
	Clock   clock.Clock
	Version string
	// Writer and Prober replace the kernel packet writer and the TCP
	// dialer of send and connect when set (tests).
	Writer sender.Writer
	Prober sender.Prober
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

// Run runs the otpknock command line args (without the program name).
// Its errors carry their exit code (ExitCode).
func Run(ctx context.Context, args []string, env Env) error {
	root := newRoot(&env, args)
	completions(root, &env, args)
	ran := markRan(root)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	if err := unknownWithHelp(root, args); err != nil {
		return err
	}
	err := root.ExecuteContext(ctx)
	if err != nil && !*ran {
		// cobra refused the command line: unknown command or flag,
		// wrong arguments.
		err = usage(err)
	}
	return err
}

// Command returns the otpknock command tree as Run executes it, for
// tools that document it: cmd/otpknock-man writes its man pages, so
// that the otpknock binary links no man page writer.
func Command(env Env) *cobra.Command { return newRoot(&env, nil) }

// commands are the constructors of the top-level commands, by name.
var commands = []struct {
	name string
	cmd  func(*Env) *cobra.Command
}{
	{"init", newInitCmd}, {"user", newUserCmd}, {"import", newImportCmd}, {"show", newShowCmd},
	{"profiles", newProfilesCmd}, {"send", newSendCmd}, {"connect", newConnectCmd},
	{"server", newServerCmd}, {"firewall", newFirewallCmd}, {"tui", newTUICmd}, {"version", newVersionCmd},
}

// newRoot builds the command tree for args. When args name a top-level
// command, the tree holds that one only: a command's help, flags and
// errors do not depend on its siblings, and ssh runs connect on every
// login, where building a dozen unused commands and their flags is a
// measurable part of the start-up. Anything else (no command, help,
// completion, an unknown command to suggest for) gets the whole tree.
func newRoot(env *Env, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "otpknock",
		Short: "Port knocking with one-time sequences",
		Long: `otpknock hides services behind closed ports. A shared secret and the
current time step derive a one-time knock sequence; the server opens the
service for the knocking address only, for a short time.

Server:  otpknock init, otpknock user add|list|show|qr|remove,
         otpknock server, otpknock firewall status|lock|remove
Client:  otpknock import, otpknock show, otpknock profiles [remove|rename],
         otpknock send, otpknock connect, otpknock tui`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.Version,
	}
	// --version without cobra's -v shorthand: -v is send's and
	// connect's --verbose.
	root.Flags().Bool("version", false, "print the version")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	for _, c := range commands {
		if len(args) > 0 && args[0] == c.name {
			root.AddCommand(c.cmd(env))
			// cobra's completion command is one more subtree to
			// build; "otpknock completion" gets the whole tree.
			root.CompletionOptions.DisableDefaultCmd = true
		}
	}
	if !root.HasSubCommands() {
		for _, c := range commands {
			root.AddCommand(c.cmd(env))
		}
	}
	parents(root)
	return root
}

// parents makes every command that only groups subcommands (the root,
// user, firewall) refuse an unknown subcommand, and print its help when
// given none.
func parents(c *cobra.Command) {
	for _, sub := range c.Commands() {
		parents(sub)
	}
	c.SuggestionsMinimumDistance = 2
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = unknownCommand
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// unknownWithHelp refuses an unknown subcommand given with --help
// ("otpknock usr add --help"), which cobra answers with its parent's help
// and exit 0.
func unknownWithHelp(root *cobra.Command, args []string) error {
	if !slices.Contains(args, "--help") && !slices.Contains(args, "-h") {
		return nil
	}
	c, rest, err := root.Find(args)
	if err != nil || !c.HasSubCommands() || c.Runnable() && c.Args == nil {
		return nil
	}
	fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	fs.AddFlagSet(c.Flags())
	fs.AddFlagSet(c.InheritedFlags())
	if fs.Lookup("help") == nil {
		fs.BoolP("help", "h", false, "") // cobra adds it at Execute
	}
	fs.SetOutput(io.Discard)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	if fs.Parse(rest) != nil || fs.NArg() == 0 {
		return nil
	}
	return unknownCommand(c, fs.Args())
}

// unknownCommand is the argument validator of a command whose arguments
// can only be its subcommands: any argument is an unknown command.
func unknownCommand(c *cobra.Command, a []string) error {
	if len(a) == 0 {
		return nil
	}
	if c.Name() == "completion" && c.HasParent() && !c.Parent().HasParent() {
		var shells []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				shells = append(shells, sub.Name())
			}
		}
		return usage(fmt.Errorf("completion: unknown shell %q: otpknock completes %s", a[0], strings.Join(shells, ", ")))
	}
	msg := fmt.Sprintf("unknown command %q for %q", a[0], c.CommandPath())
	if s := c.SuggestionsFor(a[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usage(fmt.Errorf("%s (see %s --help)", msg, c.CommandPath()))
}

// args returns a cobra argument validator whose errors say what is expected.
func args(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if len(a) < min || len(a) > max {
			return usage(fmt.Errorf("%s: want %s, got %d argument(s) (see %s --help)", c.CommandPath(), what, len(a), c.CommandPath()))
		}
		return nil
	}
}
