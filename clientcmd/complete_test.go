package clientcmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
)

// TestCompletions checks the dynamic completions: profile names and
// hosts and --format values; never a secret.
func TestCompletions(t *testing.T) {
	h := newHarness(t)
	var secrets []string
	for _, u := range []string{"alice", "bob"} {
		_, uri := fixture(t, u, nil)
		h.mustRun(uri, "import", "-", "--name", "p-"+u)
		secrets = append(secrets, strings.Split(strings.Split(uri, "secret=")[1], "&")[0])
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"show", ""}, []string{"p-alice", "198.18.0.1", "p-bob"}},
		{[]string{"send", "p-a"}, []string{"p-alice"}},
		{[]string{"connect", ""}, []string{"p-alice", "198.18.0.1", "p-bob"}},
		{[]string{"connect", "p-alice", ""}, nil},
		{[]string{"profiles", "rm", ""}, []string{"p-alice", "p-bob"}},
		{[]string{"profiles", "rename", "p-bob", ""}, nil},
		{[]string{"send", "198.18.0.1", "--profile", ""}, []string{"p-alice", "p-bob"}},
		{[]string{"show", "--format", ""}, []string{"plain", "knock"}},
		{[]string{"user", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := h.run("", append([]string{"__complete"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(l, ":") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("completions (-want +got):\n%s", diff)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("a completion shows a secret")
				}
			}
		})
	}
}

// TestCompletionShells checks that the known shells get a script and an
// unknown one a usage error naming the known ones.
func TestCompletionShells(t *testing.T) {
	h := newHarness(t)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := h.mustRun("", "completion", sh); !strings.Contains(out, "otpknock") {
			t.Errorf("completion %s printed no script", sh)
		}
	}
	out, _, err := h.run("", "completion", "tcsh")
	if cli.ExitCode(err) != cli.ExitUsage || out != "" {
		t.Fatalf("completion tcsh: exit %d, %v, output %q; want exit %d and nothing", cli.ExitCode(err), err, out, cli.ExitUsage)
	}
	if want := `completion: unknown shell "tcsh": otpknock completes bash, fish, powershell, zsh`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestUnknownCommandWithHelp checks that --help does not turn an unknown
// subcommand into its parent's help and exit 0, while known commands
// still print their help.
func TestUnknownCommandWithHelp(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"profils", "rm", "--help"}, cli.ExitUsage},
		{[]string{"profiles", "rmm", "-h"}, cli.ExitUsage},
		{[]string{"profiles", "--json", "bogus", "--help"}, cli.ExitUsage},
		{[]string{"completion", "tcsh", "--help"}, cli.ExitUsage},
		{[]string{"user", "add", "--help"}, cli.ExitUsage},
		{[]string{"profiles", "rm", "--help"}, cli.ExitOK},
		{[]string{"profiles", "rename", "x", "--help"}, cli.ExitOK},
		{[]string{"tui", "--help"}, cli.ExitOK},
		{[]string{"send", "gw1", "--help"}, cli.ExitOK},
		{[]string{"--help"}, cli.ExitOK},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			h := newHarness(t)
			out, _, err := h.run("", tt.args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Errorf("exit %d (%v), want %d", got, err, tt.want)
			}
			if tt.want == cli.ExitOK && !strings.Contains(out, "Usage:") {
				t.Errorf("no help printed:\n%s", out)
			}
		})
	}
}
