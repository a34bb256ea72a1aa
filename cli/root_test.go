package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRootForCommand checks that the tree built for one command gives
// the same help and the same refusals as the whole tree: a command's
// output must not depend on its siblings being built.
func TestRootForCommand(t *testing.T) {
	var cases [][]string
	for _, c := range commands {
		cases = append(cases, []string{c.name, "--help"}, []string{c.name, "--no-such-flag"})
	}
	cases = append(cases, []string{"user", "add", "--help"}, []string{"profiles", "nope"}, []string{"send"})
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := newHarness(t)
			out, stderr, err := h.run("", args...)
			whole := newRoot(&Env{Stdout: &bytes.Buffer{}}, nil)
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

// TestRootBuildsOneCommand checks that a named command is built alone,
// and that no command, or an unknown one, gets the whole tree.
func TestRootBuildsOneCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"send", "gw1"}, 1},
		{[]string{"connect", "gw1", "22"}, 1},
		{[]string{"show"}, 1},
		{nil, len(commands)},
		{[]string{"help", "send"}, len(commands)},
		{[]string{"sned"}, len(commands)},
		{[]string{"--version"}, len(commands)},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := len(newRoot(&Env{}, tc.args).Commands()); got != tc.want {
				t.Errorf("%d top-level commands, want %d", got, tc.want)
			}
		})
	}
}
