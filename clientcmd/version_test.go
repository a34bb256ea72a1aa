package clientcmd

import (
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
)

// TestVersionFlag checks that --version is the top level's only, with
// no -v, and that -v is --verbose on send and connect.
func TestVersionFlag(t *testing.T) {
	clitest.Lines(t, withGW1, (*harness).in, []clitest.Line[*harness]{
		{Name: "--version", Args: []string{"--version"}, Stdout: "otpknock version test"},
		{Name: "-v at the top", Args: []string{"-v"}, Code: cli.ExitUsage, Msg: "unknown shorthand flag: 'v'"},
		{Name: "--version on send", Args: []string{"send", "gw1", "--version"}, Code: cli.ExitUsage, Msg: "unknown flag: --version"},
		{Name: "-v on send is verbose", Args: []string{"send", "gw1", "-v"}, Stdout: "sent", Stderr: "knock 1/"},
		{Name: "-v on connect is a known flag", Args: []string{"connect", "gw1", "0", "-v"}, Code: cli.ExitUsage, Msg: "PORT:"},
	})
}
