package clientcmd

import (
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
)

// TestCompletions checks the dynamic completions: profile names and
// hosts and --format values; never a secret; and the completion command: a script for each known shell, a
// usage error naming them for an unknown one.
func TestCompletions(t *testing.T) {
	h := newHarness(t)
	var secrets []string
	for _, u := range []string{"alice", "bob"} {
		_, uri := fixture(t, u, nil)
		h.mustRun(uri, "import", "-", "--name", "p-"+u)
		secrets = append(secrets, clitest.URISecret(uri))
	}
	clitest.Completions(t, "otpknock", h.in, []clitest.Completion{
		{Args: []string{"show", ""}, Want: []string{"p-alice", "198.18.0.1", "p-bob"}},
		{Args: []string{"send", "p-a"}, Want: []string{"p-alice"}},
		{Args: []string{"connect", ""}, Want: []string{"p-alice", "198.18.0.1", "p-bob"}},
		{Args: []string{"connect", "p-alice", ""}},
		{Args: []string{"profiles", "rm", ""}, Want: []string{"p-alice", "p-bob"}},
		{Args: []string{"profiles", "rename", "p-bob", ""}},
		{Args: []string{"send", "198.18.0.1", "--profile", ""}, Want: []string{"p-alice", "p-bob"}},
		{Args: []string{"show", "--format", ""}, Want: []string{"plain", "knock"}},
		{Args: []string{"user", ""}},
	}, secrets)
}

// TestUnknownCommandWithHelp checks that --help does not turn an unknown
// subcommand into its parent's help and exit 0, while known commands
// still print their help.
func TestUnknownCommandWithHelp(t *testing.T) {
	clitest.Lines(t, newHarness, (*harness).in, []clitest.Line[*harness]{
		{Args: []string{"profils", "rm", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"profiles", "rmm", "-h"}, Code: cli.ExitUsage},
		{Args: []string{"profiles", "--json", "bogus", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"completion", "tcsh", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"user", "add", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"profiles", "rm", "--help"}, Help: true},
		{Args: []string{"profiles", "rename", "x", "--help"}, Help: true},
		{Args: []string{"tui", "--help"}, Help: true},
		{Args: []string{"send", "gw1", "--help"}, Help: true},
		{Args: []string{"--help"}, Help: true},
	})
}
