package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/otpknock/otpknock/clock"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is everything a command reads from or writes to its surroundings,
// the part both programs share; each role's Env (clientcmd.Env,
// servercmd.Env) embeds it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Clock  clock.Clock
	// Version is the version the program reports; with BuildInfo set,
	// the one ResolveVersion makes of it, read on first use (--version,
	// version): parsing the build information costs every start.
	Version   string
	BuildInfo func() (*debug.BuildInfo, bool)
}

// Program is one of the two programs: its name, help and commands.
type Program struct {
	// Name is the program's name (otpknock, otpknockd); Short and Long
	// are its help.
	Name, Short, Long string
	// Commands are its top-level commands in the order help lists
	// them; Execute adds version (and cobra's completion).
	Commands []Command
	// Other is the program of the other role, and OtherCommands its
	// commands that this program refuses with one line naming Other;
	// Role names that role ("server", "client").
	Other, Role   string
	OtherCommands []string
	// Complete adds the completions of names and values to the whole
	// tree, when the shell asks for completions; nil adds none.
	Complete func(root *cobra.Command)
}

// Command is a top-level command: its name and its constructor.
type Command struct {
	Name string
	New  func() *cobra.Command
}

// Execute runs the command line args (without the program name) with
// p's commands. Its errors carry their exit code (ExitCode).
func Execute(ctx context.Context, args []string, env Env, p Program) error {
	if err := otherRole(p, args); err != nil {
		return err
	}
	root := newRoot(&env, p, args)
	completions(root, &env, p, args)
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
		err = Usage(err)
	}
	return err
}

// Root returns p's whole command tree as Execute runs it, for tools
// that document it: cmd/otpknock-man writes its man pages, so that no
// otpknock binary links a man page writer.
func Root(env Env, p Program) *cobra.Command { return newRoot(&env, p, nil) }

// RoleError is the refusal of a command of the other program: the
// program that runs it, and the command line to type.
type RoleError struct {
	Program, Command, Role, Other string
}

func (e RoleError) Error() string {
	return fmt.Sprintf("%s %s: %s is a %s command: run %s %s", e.Program, e.Command, e.Command, e.Role, e.Other, e.Command)
}

// otherRole refuses a command line whose command (or the command it
// asks help for) is the other program's.
func otherRole(p Program, args []string) error {
	name := ""
	switch {
	case len(args) == 0:
		return nil
	case len(args) > 1 && (args[0] == "help" || isCompletion(args[0])):
		name = args[1]
	default:
		name = args[0]
	}
	if !slices.Contains(p.OtherCommands, name) {
		return nil
	}
	if isCompletion(args[0]) {
		return nil // nothing to complete: cobra answers with no names
	}
	return Usage(RoleError{Program: p.Name, Command: name, Role: p.Role, Other: p.Other})
}

func isCompletion(arg string) bool {
	return arg == cobra.ShellCompRequestCmd || arg == cobra.ShellCompNoDescRequestCmd
}

// prefixed says whether err's message names its program already, so
// that Main prints it as is.
func prefixed(err error) bool { return errors.As(err, new(RoleError)) }

// newRoot builds p's command tree for args. When args name a top-level
// command, the tree holds that one only: a command's help, flags and
// errors do not depend on its siblings, and ssh runs connect on every
// login, where building a dozen unused commands and their flags is a
// measurable part of the start-up. Anything else (no command, help,
// completion, an unknown command to suggest for) gets the whole tree.
func newRoot(env *Env, p Program, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           p.Name,
		Short:         p.Short,
		Long:          p.Long,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.version(args),
	}
	// --version without cobra's -v shorthand: -v is send's and
	// connect's --verbose.
	root.Flags().Bool("version", false, "print the version")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usage(fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	cmds := append(slices.Clone(p.Commands), Command{"version", func() *cobra.Command { return newVersionCmd(env, p.Name) }})
	for _, c := range cmds {
		if len(args) > 0 && args[0] == c.Name {
			root.AddCommand(c.New())
			// cobra's completion command is one more subtree to
			// build; "completion" gets the whole tree.
			root.CompletionOptions.DisableDefaultCmd = true
		}
	}
	if !root.HasSubCommands() {
		for _, c := range cmds {
			root.AddCommand(c.New())
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
// ("otpknockd usr add --help"), which cobra answers with its parent's
// help and exit 0.
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
		return Usage(fmt.Errorf("completion: unknown shell %q: %s completes %s", a[0], c.Root().Name(), strings.Join(shells, ", ")))
	}
	msg := fmt.Sprintf("unknown command %q for %q", a[0], c.CommandPath())
	if s := c.SuggestionsFor(a[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return Usage(fmt.Errorf("%s (see %s --help)", msg, c.CommandPath()))
}

// Args returns a cobra argument validator for min to max arguments whose
// error says what is expected.
func Args(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if len(a) < min || len(a) > max {
			return Usage(fmt.Errorf("%s: want %s, got %d argument(s) (see %s --help)", c.CommandPath(), what, len(a), c.CommandPath()))
		}
		return nil
	}
}

// NoArgsButSubcommands is the argument validator of a runnable command
// that has subcommands (otpknock profiles): any argument is an unknown
// subcommand.
func NoArgsButSubcommands(c *cobra.Command, a []string) error { return unknownCommand(c, a) }
