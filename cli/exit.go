package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Exit codes of the otpknock and otpknockd binaries.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime failure: the server failed, the knock did not open, ...
	ExitUsage   = 2 // bad flags, arguments, configuration or input
	// ExitNotOpened is the runtime failure of a knock sent whose service
	// did not open.
	ExitNotOpened = ExitFailure
	// ExitNoProfile: no profile knocks the target (otpknock send and
	// connect), so a script or an ssh_config Match exec line can tell
	// "this host is not knocked" from a knock that failed.
	ExitNoProfile = 3
)

// noProfileError marks an error naming a target no profile knocks.
type noProfileError struct{ err error }

func (e noProfileError) Error() string { return e.err.Error() }
func (e noProfileError) Unwrap() error { return e.err }

// NoProfile marks err as naming a target no profile knocks
// (ExitNoProfile); nil stays nil.
func NoProfile(err error) error {
	if err == nil {
		return nil
	}
	return noProfileError{err}
}

// usageError marks an error of usage or configuration: bad flags,
// arguments, config file, secrets or input. ExitCode maps it to
// ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usage marks err as an error of usage or configuration (ExitUsage);
// nil stays nil.
func Usage(err error) error {
	if err == nil || isUsage(err) {
		return err
	}
	return usageError{err}
}

// UsageErrorf is Usage(fmt.Errorf(format, a...)).
func UsageErrorf(format string, a ...any) error { return Usage(fmt.Errorf(format, a...)) }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// ExitCode maps an error returned by Execute to the process exit code:
// ExitNoProfile for a target no profile knocks, ExitUsage for errors of
// usage or configuration, ExitFailure for any other.
func ExitCode(err error) int {
	var np noProfileError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &np):
		return ExitNoProfile
	case isUsage(err):
		return ExitUsage
	}
	return ExitFailure
}

// markRan wraps the RunE of c and its subcommands. The returned flag
// tells whether a RunE was entered: an error without it is cobra's
// refusal of the command line. Each command marks its usage and
// configuration errors itself (Usage); any other error it returns is a
// runtime failure.
func markRan(c *cobra.Command) *bool {
	ran := new(bool)
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		run := c.RunE
		if run == nil {
			return // no command, or one that cannot fail (Run)
		}
		c.RunE = func(cmd *cobra.Command, a []string) error {
			*ran = true
			return run(cmd, a)
		}
	}
	walk(c)
	return ran
}
