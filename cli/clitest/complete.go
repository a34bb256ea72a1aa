package clitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
)

// Completion is a command line being completed (its last word the one
// to complete) and the completions it must get.
type Completion struct {
	Args []string
	Want []string
}

// Completions checks program's completions: each of cases run through
// run as the shell asks for it (__complete) gets its names, none of
// them showing any of secrets; and the completion command (Shells).
func Completions(t *testing.T, program string, run func(args ...string) Result, cases []Completion, secrets []string) {
	t.Helper()
	t.Run("completion", func(t *testing.T) { Shells(t, program, run) })
	for _, c := range cases {
		t.Run(strings.Join(c.Args, " "), func(t *testing.T) {
			r := run(append([]string{"__complete"}, c.Args...)...)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
				if !strings.HasPrefix(l, ":") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(c.Want, got); diff != "" {
				t.Errorf("completions (-want +got):\n%s", diff)
			}
			for _, s := range secrets {
				if strings.Contains(r.Stdout, s) {
					t.Errorf("a completion shows a secret")
				}
			}
		})
	}
}

// URISecret returns the secret of an otpauth URI, for the check that
// no completion shows it.
func URISecret(uri string) string {
	_, rest, _ := strings.Cut(uri, "secret=")
	secret, _, _ := strings.Cut(rest, "&")
	return secret
}

// Shells checks that program's completion command prints a script for
// each known shell and refuses an unknown one with a usage error
// naming the known ones.
func Shells(t *testing.T, program string, run func(args ...string) Result) {
	t.Helper()
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := run("completion", sh); r.Err != nil || !strings.Contains(r.Stdout, program) {
			t.Errorf("completion %s printed no script (%v)", sh, r.Err)
		}
	}
	r := run("completion", "tcsh")
	if r.Code != cli.ExitUsage || r.Stdout != "" {
		t.Fatalf("completion tcsh: exit %d, %v, output %q; want exit %d and nothing", r.Code, r.Err, r.Stdout, cli.ExitUsage)
	}
	want := fmt.Sprintf(`completion: unknown shell "tcsh": %s completes bash, fish, powershell, zsh`, program)
	if r.Err.Error() != want {
		t.Errorf("error %q, want %q", r.Err, want)
	}
}
