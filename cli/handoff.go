package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// Full is the program that runs every otpknock command: the server, its
// administration, the TUI and reading a QR code PNG, which otpknock, the
// client that ssh starts on every login, hands to it to start fast.
const Full = "otpknockd"

// HandoffSummary returns the summary otpknock's help shows for a command
// it hands to otpknockd, the same as otpknockd's own (a test compares
// them), and whether it hands name off.
func HandoffSummary(name string) (string, bool) {
	switch name {
	case "init":
		return "Write a commented default server config", true
	case "user":
		return "Add, list, show and remove the server's users; print their URI again", true
	case "server":
		return "Run the knock server: watch knocks, open services for their senders", true
	case "firewall":
		return "Show, lock or remove the server's firewall table or chain, sets and grants", true
	case "tui":
		return "The knock at a glance: profiles, the current sequence, one key to knock", true
	}
	return "", false
}

func handedOff(name string) bool { _, ok := HandoffSummary(name); return ok }

// asksAboutHandoff says whether args ask for the help of a command that
// otpknock hands off (help user add), or ask the shell's completion
// request command to complete one (__complete user add --k, __complete
// help user ""): otpknockd knows their subcommands and flags.
func asksAboutHandoff(args []string) bool {
	if len(args) < 2 || args[0] != "help" && !isCompletion(args[0]) {
		return false
	}
	rest := args[1:]
	if isCompletion(args[0]) && rest[0] == "help" {
		rest = rest[1:]
	}
	return len(rest) > 0 && handedOff(rest[0])
}

func isCompletion(arg string) bool {
	return arg == cobra.ShellCompRequestCmd || arg == cobra.ShellCompNoDescRequestCmd
}

// newHandoffCmd is the command name of otpknock that otpknockd runs: its
// flags and arguments, help included, are otpknockd's to parse.
func newHandoffCmd(env *Env, name string) *cobra.Command {
	short, _ := HandoffSummary(name)
	return &cobra.Command{
		Use:                name,
		Short:              short,
		Long:               short + ".\n\notpknock runs " + name + " with " + Full + ": see otpknock " + name + " --help.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, a []string) error {
			return env.handoff(cmd.Context(), append([]string{name}, a...), nil, nil, nil)
		},
	}
}

// handoff runs args with otpknockd: Env's Handoff, or the program.
func (env *Env) handoff(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if env.Handoff != nil {
		return env.Handoff(ctx, args, stdin, stdout, stderr)
	}
	path, err := FullPath()
	if err != nil {
		return err
	}
	environ := withVersion(os.Environ(), env.version(nil))
	if stdin == nil {
		return replace(path, args, environ)
	}
	return runFull(ctx, path, args, environ, stdin, stdout, stderr)
}

// withVersion returns environ with ClientVersionEnv set to version, in
// place of any value it had.
func withVersion(environ []string, version string) []string {
	out := slices.DeleteFunc(slices.Clone(environ), func(kv string) bool { return strings.HasPrefix(kv, ClientVersionEnv+"=") })
	return append(out, ClientVersionEnv+"="+version)
}

// ClientVersionEnv names the variable in which otpknock tells otpknockd
// its version when it hands a command off, so that otpknockd can warn
// of binaries from two releases (CheckClientVersion).
const ClientVersionEnv = "OTPKNOCK_CLIENT_VERSION"

// CheckClientVersion warns on env's standard error, in one line, when
// the otpknock that handed this command off (ClientVersionEnv) is of
// another version than this program.
func CheckClientVersion(env *Env) {
	client := env.Getenv(ClientVersionEnv)
	if client == "" {
		return
	}
	if own := env.version(nil); client != own {
		fmt.Fprintf(env.Stderr, "otpknock: warning: otpknock %s handed this command to %s %s: install both from one release\n", client, Full, own)
	}
}

// FullPath returns the path of otpknockd: beside the running executable,
// else the first on PATH; the error names both places and the fix.
func FullPath() (string, error) {
	name := Full
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	self, err := os.Executable()
	if err == nil {
		if self, err = filepath.EvalSymlinks(self); err == nil {
			p := filepath.Join(filepath.Dir(self), name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && (runtime.GOOS == "windows" || st.Mode()&0o111 != 0) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	where := "beside otpknock"
	if self != "" {
		where = "in " + filepath.Dir(self)
	}
	return "", HandoffError{fmt.Errorf("%s runs this command and is not %s nor on PATH: install it from the same release as otpknock (its archives and packages hold both; with Go: go install github.com/otpknock/otpknock/cmd/%s@VERSION)", Full, where, Full)}
}

// runFull runs otpknockd with args as a child and waits for it; its
// exit status becomes the error's exit code, and it has said why itself.
func runFull(ctx context.Context, path string, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = environ, stdin, stdout, stderr
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() > 0 {
		return exitStatus(ee.ExitCode())
	}
	if err != nil {
		return HandoffError{fmt.Errorf("running %s: %w", path, err)}
	}
	return nil
}

// HandoffError is a failure to run otpknockd at all (missing, not
// executable): a runtime failure, never an error of usage.
type HandoffError struct{ Err error }

func (e HandoffError) Error() string { return e.Err.Error() }
func (e HandoffError) Unwrap() error { return e.Err }

// exitStatus is the exit status of a command that otpknockd ran and
// reported itself: the process exits with it and prints nothing more.
type exitStatus int

func (e exitStatus) Error() string { return "" }
