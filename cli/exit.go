package cli

import (
	"errors"

	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
)

// Exit codes of the otpknock binary.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime failure: the server failed, the knock did not open, ...
	ExitUsage   = 2 // bad flags, arguments, configuration or input
	// ExitNotOpened is the runtime failure of a knock sent whose service
	// did not open.
	ExitNotOpened = ExitFailure
)

// usageError marks an error of usage or configuration: bad flags,
// arguments, config file, secrets or input. ExitCode maps it to
// ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usage marks err as an error of usage or configuration; nil stays nil.
func usage(err error) error {
	if err == nil || isUsage(err) {
		return err
	}
	return usageError{err}
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// ExitCode maps an error returned by Run to the process exit code:
// ExitUsage for errors of usage or configuration, ExitFailure for any
// other.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case isUsage(err):
		return ExitUsage
	}
	return ExitFailure
}

// errorsKey is the annotation of a command whose errors are classified:
// it marks its usage and configuration errors itself (usage), so any
// other error it returns is a runtime failure.
const errorsKey, errorsClassified = "otpknock/errors", "classified"

// classifiedErrors is the annotation of a command whose errors are
// classified.
func classifiedErrors() map[string]string { return map[string]string{errorsKey: errorsClassified} }

// classifyErrors wraps the RunE of c and its subcommands. The returned
// flag tells whether a RunE was entered: an error without it is cobra's
// refusal of the command line. An unmarked error of a command without
// the classified annotation is taken as a usage error, except a knock
// that did not open (sender.ErrStillClosed): those commands have not yet
// marked their usage errors, and this keeps their exit codes.
func classifyErrors(c *cobra.Command) *bool {
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
		strict := c.Annotations[errorsKey] == errorsClassified
		c.RunE = func(cmd *cobra.Command, a []string) error {
			*ran = true
			err := run(cmd, a)
			if err == nil || strict || errors.Is(err, sender.ErrStillClosed) {
				return err
			}
			return usage(err)
		}
	}
	walk(c)
	return ran
}
