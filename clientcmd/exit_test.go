package clientcmd

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// TestCommandExitCodes runs the client's commands through Run: errors
// of flags, arguments, configuration and input exit 2, runtime failures
// (a knock that cannot be sent or does not open) exit 1.
func TestCommandExitCodes(t *testing.T) {
	clitest.Lines(t, withGW1, (*harness).in, []clitest.Line[*harness]{
		{Name: "import twice by name", Setup: func(t *testing.T, h *harness) {
			_, uri := fixture(t, "bob", nil)
			writeFile(t, h.path("bob.uri"), uri)
		}, Args: []string{"import", "{dir}/bob.uri", "--name", "gw1"}, Code: cli.ExitUsage, Msg: "remove it first"},
		{Name: "profiles bad store", Setup: func(t *testing.T, h *harness) { writeFile(t, h.env["OTPKNOCK_CLIENT_CONFIG"], "bogus: 1\n") },
			Args: []string{"profiles"}, Code: cli.ExitUsage, Msg: "bogus"},
		{Name: "tui bad store", Setup: func(t *testing.T, h *harness) { writeFile(t, h.env["OTPKNOCK_CLIENT_CONFIG"], "bogus: 1\n") },
			Args: []string{"tui"}, Code: cli.ExitUsage, Msg: "bogus"},
		{Name: "show no profile", Args: []string{"show", "nope"}, Code: cli.ExitUsage, Msg: `no profile "nope"`},
		{Name: "send bad state", Setup: func(t *testing.T, h *harness) { writeFile(t, h.path("client/state.json"), "{") },
			Args: []string{"send", "gw1"}, Code: cli.ExitUsage, Msg: "state"},
		{Name: "send bad source", Args: []string{"send", "gw1", "--public-ip", "x"}, Code: cli.ExitUsage, Msg: "--public-ip"},
		{Name: "send fails", Setup: func(t *testing.T, h *harness) { h.writer.(*sendertest.Fake).Err = errors.New("no route") },
			Args: []string{"send", "gw1"}, Code: cli.ExitFailure, Msg: "no route"},
		{Name: "send without privileges", Setup: func(t *testing.T, h *harness) {
			h.writer.(*sendertest.Fake).Err = fmt.Errorf("icmp knock needs a raw socket: %w", fs.ErrPermission)
		}, Args: []string{"send", "gw1"}, Code: cli.ExitUsage, Msg: "raw socket"},
		{Name: "send sent", Args: []string{"send", "gw1"}},
		{Name: "send no profile", Args: []string{"send", "nope.example.org"}, Code: cli.ExitNoProfile, Msg: `no profile "nope.example.org"`},
		{Name: "send --profile no profile", Args: []string{"send", "198.18.0.1", "--profile", "nope"}, Code: cli.ExitNoProfile, Msg: `no profile "nope"`},
		{Name: "send no profile, bad flag first", Args: []string{"send", "nope", "--retries", "99"}, Code: cli.ExitUsage, Msg: "--retries"},
		{Name: "connect no profile", Args: []string{"connect", "nope.example.org", "22"}, Code: cli.ExitNoProfile, Msg: `no profile "nope.example.org"`},
		{Name: "keep bad every", Args: []string{"keep", "gw1", "--every", "5s"}, Code: cli.ExitUsage, Msg: "--every"},
		{Name: "keep no profile", Args: []string{"keep", "nope"}, Code: cli.ExitNoProfile, Msg: `no profile "nope"`},
		{Name: "keep bad state", Setup: func(t *testing.T, h *harness) { writeFile(t, h.path("client/state.json"), "{") },
			Args: []string{"keep", "gw1"}, Code: cli.ExitUsage, Msg: "state"},
		{Name: "connect bad timeout", Args: []string{"connect", "gw1", "22", "--timeout", "0s"}, Code: cli.ExitUsage, Msg: "--timeout"},
		{Name: "version extra argument", Args: []string{"version", "x"}, Code: cli.ExitUsage, Msg: "want no arguments"},
		{Name: "a server command", Args: []string{"init", "--server-id", "x"}, Code: cli.ExitUsage, Msg: "otpknock init: init is a server command: run otpknockd init"},
		{Name: "help of a server command", Args: []string{"help", "user"}, Code: cli.ExitUsage, Msg: "otpknock user: user is a server command: run otpknockd user"},
	})
}

// TestUnknownSubcommands checks that profiles refuses an unknown
// subcommand in one line, exit 2, and that the aliases run.
func TestUnknownSubcommands(t *testing.T) {
	clitest.Lines(t, withGW1, (*harness).in, []clitest.Line[*harness]{
		{Args: []string{"profiles", "bar"}, Code: cli.ExitUsage, Msg: `unknown command "bar" for "otpknock profiles"`},
		{Args: []string{"sned"}, Code: cli.ExitUsage, Msg: `unknown command "sned" for "otpknock" (did you mean send?)`},
		{Args: []string{"profiles", "ls"}, Code: cli.ExitUsage, Msg: `unknown command "ls" for "otpknock profiles"`},
		{Args: []string{"profiles"}},
		{Args: []string{"profiles", "rm", "gw1"}},
	})
}
