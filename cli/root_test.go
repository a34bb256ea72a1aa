package cli

import (
	"strings"
	"testing"
)

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
			if got := len(newRoot(&Env{}, tc.args, nil).Commands()); got != tc.want {
				t.Errorf("%d top-level commands, want %d", got, tc.want)
			}
		})
	}
}
