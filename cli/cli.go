package cli

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is everything a command reads from or writes to its surroundings.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Clock  clock.Clock
	// Version is the version otpknock reports; with BuildInfo set, the
	// one ResolveVersion makes of it, read on first use (--version,
	// version): parsing the build information costs every start.
	Version   string
	BuildInfo func() (*debug.BuildInfo, bool)
	// Writer and Prober replace the kernel packet writer and the TCP
	// dialer of send and connect when set (tests).
	Writer sender.Writer
	Prober sender.Prober
	// DecodePNG reads the provisioning URI from a QR code PNG (import
	// FILE.png); nil hands the PNG to otpknockd, which links the QR
	// decoder that otpknock leaves out.
	DecodePNG func(png []byte) (string, error)
	// Handoff runs a command line with otpknockd: with stdin nil, in
	// this process's place where the OS allows, as otpknock runs the
	// commands it hands off; else as a child reading stdin and writing
	// stdout and stderr. nil means the otpknockd beside this executable,
	// else on PATH.
	Handoff func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// Run runs the otpknock command line args (without the program name):
// the client's commands here, the server's, its administration's and the
// TUI's handed to otpknockd (Env.Handoff). Its errors carry their exit
// code (ExitCode).
func Run(ctx context.Context, args []string, env Env) error {
	if asksAboutHandoff(args) {
		return env.handoff(ctx, args, nil, nil, nil)
	}
	return Execute(ctx, args, env, nil)
}

// Execute runs the command line args with the client's commands and
// cmds, each of which replaces the hand-off of its name: otpknockd runs
// every command through it (package fullcli).
func Execute(ctx context.Context, args []string, env Env, cmds []Command) error {
	root := newRoot(&env, args, cmds)
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

// Root returns the whole command tree of the client's commands and cmds
// as Execute runs it, for tools that document it: cmd/otpknock-man
// writes its man pages, so that no otpknock binary links a man page
// writer.
func Root(env Env, cmds []Command) *cobra.Command { return newRoot(&env, nil, cmds) }

// Command is a top-level command: its name and its constructor.
type Command struct {
	Name string
	New  func(*Env) *cobra.Command
}

// commands are the top-level commands in the order help lists them:
// the client's, and the commands otpknock hands off with a nil
// constructor.
var commands = [...]Command{
	{"init", nil}, {"user", nil}, {"import", newImportCmd}, {"show", newShowCmd},
	{"profiles", newProfilesCmd}, {"send", newSendCmd}, {"connect", newConnectCmd},
	{"server", nil}, {"firewall", nil}, {"tui", nil}, {"version", newVersionCmd},
}

// constructor returns the constructor of the top-level command name:
// the one of cmds, the client's, or the hand-off.
func constructor(name string, cmds []Command) func(*Env) *cobra.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c.New
		}
	}
	for _, c := range commands {
		if c.Name == name && c.New != nil {
			return c.New
		}
	}
	return func(env *Env) *cobra.Command { return newHandoffCmd(env, name) }
}

// topLevel returns the names of the top-level commands: commands', then
// those of cmds that replace no hand-off.
func topLevel(cmds []Command) []string {
	var names []string
	for _, c := range commands {
		names = append(names, c.Name)
	}
	for _, c := range cmds {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

// newRoot builds the command tree for args. When args name a top-level
// command, the tree holds that one only: a command's help, flags and
// errors do not depend on its siblings, and ssh runs connect on every
// login, where building a dozen unused commands and their flags is a
// measurable part of the start-up. Anything else (no command, help,
// completion, an unknown command to suggest for) gets the whole tree.
func newRoot(env *Env, args []string, cmds []Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "otpknock",
		Short: "Port knocking with one-time sequences",
		Long: `otpknock hides services behind closed ports. A shared secret and the
current time step derive a one-time knock sequence; the server opens the
service for the knocking address only, for a short time.

Server:  otpknock init, otpknock user add|list|show|qr|remove,
         otpknock server, otpknock firewall status|lock|remove
Client:  otpknock import, otpknock show, otpknock profiles [remove|rename],
         otpknock send, otpknock connect, otpknock tui

otpknock runs init, user, server, firewall and tui with otpknockd,
beside it or on PATH.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.version(args),
	}
	// --version without cobra's -v shorthand: -v is send's and
	// connect's --verbose.
	root.Flags().Bool("version", false, "print the version")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	names := topLevel(cmds)
	for _, name := range names {
		if len(args) > 0 && args[0] == name {
			root.AddCommand(constructor(name, cmds)(env))
			// cobra's completion command is one more subtree to
			// build; "otpknock completion" gets the whole tree.
			root.CompletionOptions.DisableDefaultCmd = true
		}
	}
	if !root.HasSubCommands() {
		for _, name := range names {
			root.AddCommand(constructor(name, cmds)(env))
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
