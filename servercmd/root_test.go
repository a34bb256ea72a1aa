package servercmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
)

// TestRootForCommand checks that the tree built for one command gives
// the same help and the same refusals as the whole tree: a command's
// output must not depend on its siblings being built.
func TestRootForCommand(t *testing.T) {
	var cases [][]string
	for _, c := range Root(Env{}).Commands() {
		cases = append(cases, []string{c.Name(), "--help"}, []string{c.Name(), "--no-such-flag"})
	}
	cases = append(cases, []string{"user", "add", "--help"}, []string{"user", "nope"}, []string{"firewall"})
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := newHarness(t)
			out, stderr, err := h.run("", args...)
			whole := Root(Env{Env: cli.Env{Stdout: &bytes.Buffer{}}})
			var wantOut bytes.Buffer
			whole.SetArgs(args)
			whole.SetOut(&wantOut)
			whole.SetErr(&wantOut)
			wantErr := whole.Execute()
			if args[len(args)-1] == "--help" && !strings.Contains(wantOut.String(), "Usage:") {
				t.Fatalf("the whole tree printed no help:\n%s", wantOut.String())
			}
			if diff := cmp.Diff(wantOut.String(), out+stderr); diff != "" {
				t.Errorf("output (-whole tree +one command):\n%s", diff)
			}
			if (err == nil) != (wantErr == nil) || err != nil && !strings.Contains(err.Error(), wantErr.Error()) {
				t.Errorf("error: one command %v, whole tree %v", err, wantErr)
			}
		})
	}
}

// TestClientCommandsRefused: otpknockd refuses each of otpknock's
// commands (and help for it) with one line naming otpknock, exit 2,
// and prints nothing.
func TestClientCommandsRefused(t *testing.T) {
	for _, name := range []string{"import", "show", "profiles", "send", "connect", "tui"} {
		for _, args := range [][]string{{name}, {name, "gw1", "--bogus"}, {"help", name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				h := newHarness(t)
				out, stderr, err := h.run("", args...)
				want := "otpknockd " + name + ": " + name + " is a client command: run otpknock " + name
				if cli.ExitCode(err) != cli.ExitUsage || err.Error() != want || out != "" || stderr != "" {
					t.Errorf("exit %d, err %v, output %q %q; want exit 2 and %q", cli.ExitCode(err), err, out, stderr, want)
				}
			})
		}
	}
}
