package servercmd

import (
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
)

// TestCompletions checks the dynamic completions: user names of the
// config --config names, --knock and --log-format values; never a
// secret; and the completion command: a script for each known shell, a
// usage error naming them for an unknown one.
func TestCompletions(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "-c", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	var secrets []string
	for _, u := range []string{"alice", "bob"} {
		uri := uriRE.FindString(h.mustRun("", "user", "add", u, "-c", cfg, "--no-qr", "--no-reload"))
		secrets = append(secrets, clitest.URISecret(uri))
	}
	clitest.Completions(t, "otpknockd", h.in, []clitest.Completion{
		{Args: []string{"user", "remove", "-c", cfg, ""}, Want: []string{"alice", "bob"}},
		{Args: []string{"user", "qr", "-c", cfg, "b"}, Want: []string{"bob"}},
		{Args: []string{"user", "show", "-c", h.path("none.yaml"), ""}},
		{Args: []string{"user", "add", "carol", "--knock", "p"}, Want: []string{"packet"}},
		{Args: []string{"server", "--log-format", ""}, Want: []string{"text", "json"}},
		{Args: []string{"show", ""}},
	}, secrets)
}

// TestUnknownCommandWithHelp checks that --help does not turn an unknown
// subcommand into its parent's help and exit 0, while known commands
// still print their help.
func TestUnknownCommandWithHelp(t *testing.T) {
	clitest.Lines(t, newHarness, (*harness).in, []clitest.Line[*harness]{
		{Args: []string{"usr", "add", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"user", "rmm", "-h"}, Code: cli.ExitUsage},
		{Args: []string{"user", "-c", "x.yaml", "bogus", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"completion", "tcsh", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"user", "rm", "--help"}, Help: true},
		{Args: []string{"user", "-c", "x.yaml", "list", "--help"}, Help: true},
		{Args: []string{"send", "gw1", "--help"}, Code: cli.ExitUsage},
		{Args: []string{"--help"}, Help: true},
	})
}
