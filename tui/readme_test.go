package tui

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadmeScreenshot checks that the README shows the TUI as it is: its
// screenshot is the knock_success golden, trailing spaces trimmed and
// runs of blank lines collapsed.
func TestReadmeScreenshot(t *testing.T) {
	golden, err := os.ReadFile("testdata/TestScreens/knock_success.golden")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(golden), "\n") {
		l = strings.TrimRight(l, " ")
		if l == "" && (len(want) == 0 || want[len(want)-1] == "") {
			continue
		}
		want = append(want, l)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const open = "```sh\notpknock tui\n```\n\n```\n"
	_, shot, ok := strings.Cut(string(readme), open)
	if !ok {
		t.Fatalf("README.md has no screenshot after %q", open)
	}
	shot, _, _ = strings.Cut(shot, "\n```\n")
	if diff := cmp.Diff(strings.TrimRight(strings.Join(want, "\n"), "\n"), shot); diff != "" {
		t.Errorf("README.md's TUI screenshot (-golden +README):\n%s", diff)
	}
}
