package servercmd

import (
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
)

// TestVersionFlag checks that --version is the top level's only, with
// no -v, and that version names otpknockd.
func TestVersionFlag(t *testing.T) {
	clitest.Lines(t, withServer, (*harness).in, []clitest.Line[*harness]{
		{Name: "--version", Args: []string{"--version"}, Stdout: "otpknockd version test"},
		{Name: "version", Args: []string{"version"}, Stdout: "otpknockd test (derivation otpknock/v"},
		{Name: "-v at the top", Args: []string{"-v"}, Code: cli.ExitUsage, Msg: "unknown shorthand flag: 'v'"},
		{Name: "--version on user list", Args: []string{"user", "list", "--version"}, Code: cli.ExitUsage, Msg: "unknown flag: --version"},
	})
}
