package clientcmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/profile"
)

// TestProfilesRemoveRename edits the store of a client that imported
// gw1 (alice) and work (bob).
func TestProfilesRemoveRename(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
		msg  string
		left []string // profiles afterwards
	}{
		{"remove", []string{"profiles", "remove", "gw1"}, cli.ExitOK, "Removed profile gw1", []string{"work"}},
		{"rm", []string{"profiles", "rm", "work"}, cli.ExitOK, "Removed profile work", []string{"gw1"}},
		{"remove missing", []string{"profiles", "remove", "nope"}, cli.ExitUsage, `no profile "nope"`, []string{"gw1", "work"}},
		{"remove no name", []string{"profiles", "remove"}, cli.ExitUsage, "want the profile's NAME", []string{"gw1", "work"}},
		{"rename", []string{"profiles", "rename", "gw1", "home"}, cli.ExitOK, "Renamed profile gw1 to home", []string{"home", "work"}},
		{"mv", []string{"profiles", "mv", "work", "a"}, cli.ExitOK, "Renamed profile work to a", []string{"a", "gw1"}},
		{"rename missing", []string{"profiles", "rename", "nope", "x"}, cli.ExitUsage, `no profile "nope"`, []string{"gw1", "work"}},
		{"rename taken", []string{"profiles", "rename", "gw1", "work"}, cli.ExitUsage, `a profile named "work" exists`, []string{"gw1", "work"}},
		{"rename bad name", []string{"profiles", "rename", "gw1", "a b"}, cli.ExitUsage, "profile name", []string{"gw1", "work"}},
		{"import twice", []string{"import", "{dir}/bob.uri"}, cli.ExitUsage, "already imported as profile work", []string{"gw1", "work"}},
		{"import twice, named", []string{"import", "{dir}/bob.uri", "--name", "other"}, cli.ExitOK, "Imported profile other", []string{"gw1", "other", "work"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := withProfile(t, "198.18.0.1")
			_, uri := fixture(t, "bob", nil)
			writeFile(t, h.path("bob.uri"), uri)
			h.mustRun("", "import", h.path("bob.uri"), "--name", "work")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "{dir}", h.dir)
			}
			out, _, err := h.run("", args...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Fatalf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if !strings.Contains(out+errText(err), tt.msg) {
				t.Errorf("output %q, err %v: want %q", out, err, tt.msg)
			}
			s, err := profile.Load(h.env["OTPKNOCK_CLIENT_CONFIG"])
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, p := range s.Profiles {
				left = append(left, p.Name)
			}
			if diff := cmp.Diff(tt.left, left); diff != "" {
				t.Errorf("profiles (-want +got):\n%s", diff)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
