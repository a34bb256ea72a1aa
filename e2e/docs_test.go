package e2e

import (
	"fmt"
	"github.com/otpknock/otpknock/clientcmd"
	"github.com/otpknock/otpknock/servercmd"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docCommands returns the otpknock and otpknockd command lines of the sh blocks of a
// Markdown section (from its heading to the next "## "), without sudo
// and trailing comments.
func docCommands(t *testing.T, file, heading string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no section %q", file, heading)
	}
	s = s[i+len(heading)+2:]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	var out []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(s, -1) {
		for _, line := range strings.Split(block[1], "\n") {
			line, _, _ = strings.Cut(line, "#")
			for _, cmd := range strings.Split(line, "&&") {
				cmd = strings.TrimPrefix(strings.TrimSpace(cmd), "sudo ")
				if strings.HasPrefix(cmd, "otpknock ") || strings.HasPrefix(cmd, "otpknockd ") {
					out = append(out, cmd)
				}
			}
		}
	}
	return out
}

// TestQuickStartReachesADoor checks that the README's quick start and
// the guide's first user start the server and that each of their
// otpknock and otpknockd command lines parses with its program: its
// subcommand and flags exist.
func TestQuickStartReachesADoor(t *testing.T) {
	for _, doc := range []struct{ file, heading string }{
		{"../README.md", "## Quick start"},
		{"../docs/guide.md", "## The first user in five minutes"},
	} {
		t.Run(doc.file, func(t *testing.T) {
			data, _ := os.ReadFile(doc.file)
			section := string(data)[strings.Index(string(data), doc.heading):]
			if !strings.Contains(section, "systemctl enable --now otpknock") {
				t.Errorf("%s: %s never starts the server", doc.file, doc.heading)
			}
			cmds := docCommands(t, doc.file, doc.heading)
			for _, want := range []string{"otpknockd init", "otpknockd user add", "otpknock import", "otpknock send"} {
				found := false
				for _, c := range cmds {
					found = found || strings.HasPrefix(c, want)
				}
				if !found {
					t.Errorf("%s: %s has no %q", doc.file, doc.heading, want)
				}
			}
			for _, c := range cmds {
				args := strings.Fields(c)[1:]
				root := clientcmd.Root(clientcmd.Env{})
				if strings.HasPrefix(c, "otpknockd ") {
					root = servercmd.Root(servercmd.Env{})
				}
				cmd, rest, err := root.Find(args)
				if err == nil && cmd.HasParent() && cmd.Runnable() {
					err = cmd.ParseFlags(rest)
				} else if err == nil {
					err = fmt.Errorf("no such command")
				}
				if err != nil {
					t.Errorf("%s: %q does not parse: %v", doc.file, c, err)
				}
			}
		})
	}
}
