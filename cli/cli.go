package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
)

// Exit codes of the otpknock binary.
const (
	ExitOK        = 0
	ExitNotOpened = 1 // the knock was sent but the service did not open
	ExitUsage     = 2 // bad flags, arguments, configuration or input
)

// ErrNotOpened marks failures that exit with ExitNotOpened.
var ErrNotOpened = errors.New("not opened")

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
}

// Run runs the otpknock command line args (without the program name).
func Run(ctx context.Context, args []string, env Env) error {
	root := newRoot(&env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	return root.ExecuteContext(ctx)
}

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrNotOpened), errors.Is(err, sender.ErrStillClosed):
		return ExitNotOpened
	}
	return ExitUsage
}

func newRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "otpknock",
		Short: "Port knocking with one-time sequences",
		Long: `otpknock hides services behind closed ports. A shared secret and the
current time step derive a one-time knock sequence; the server opens the
service for the knocking address only, for a short time.

Server:  otpknock init, otpknock user add|list|show|remove,
         otpknock server, otpknock firewall status|remove
Client:  otpknock import, otpknock show, otpknock profiles,
         otpknock send, otpknock connect, otpknock tui`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.Version,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(
		newInitCmd(env),
		newUserCmd(env),
		newImportCmd(env),
		newShowCmd(env),
		newProfilesCmd(env),
		newSendCmd(env),
		newConnectCmd(env),
		newServerCmd(env),
		newFirewallCmd(env),
		newTUICmd(env),
		newManCmd(env),
		newVersionCmd(env),
	)
	return root
}

// args returns a cobra argument validator whose errors say what is expected.
func args(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if len(a) < min || len(a) > max {
			return fmt.Errorf("%s: want %s, got %d argument(s) (see %s --help)", c.CommandPath(), what, len(a), c.CommandPath())
		}
		return nil
	}
}
