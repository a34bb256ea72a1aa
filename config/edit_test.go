package config

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEditKeepsBlankLines edits the file init writes, and variants of
// it, and checks that every line outside the users list stays as it was,
// blank lines and comments included.
func TestEditKeepsBlankLines(t *testing.T) {
	const tail = "\n# After the users.\nmetrics_listen: \"\"\n"
	tests := []struct {
		name string
		edit func(path string) error  // the file starts as init writes it, changed by prep
		prep func(init string) string // the file before the edit
		want func(init string) string // the expected file
	}{
		{"add and remove leaves the init file", func(p string) error {
			if _, err := AddUser(p, NewUser{Name: "alice", Open: []string{"tcp/22"}}); err != nil {
				return err
			}
			_, err := RemoveUser(p, "alice")
			return err
		}, nil, func(init string) string { return init }},
		{"add to the init file", func(p string) error {
			_, err := AddUser(p, NewUser{Name: "alice", Open: []string{"tcp/22"}})
			return err
		}, nil, func(init string) string {
			return strings.TrimSuffix(init, "users: []\n") + "users:\n  - name: alice\n    open: [tcp/22]\n"
		}},
		{"users before other keys", func(p string) error {
			if _, err := AddUser(p, NewUser{Name: "alice", Open: []string{"tcp/22"}}); err != nil {
				return err
			}
			_, err := AddUser(p, NewUser{Name: "bob", Open: []string{"tcp/2222"}})
			return err
		}, func(init string) string {
			return strings.Replace(init, "metrics_listen: \"\"\n", "", 1) + tail
		}, func(init string) string {
			base := strings.Replace(init, "metrics_listen: \"\"\n", "", 1)
			return strings.TrimSuffix(base, "users: []\n") +
				"users:\n  - name: alice\n    open: [tcp/22]\n  - name: bob\n    open: [tcp/2222]\n" + tail
		}},
		{"no users key", func(p string) error {
			_, err := AddUser(p, NewUser{Name: "alice", Open: []string{"tcp/22"}})
			return err
		}, func(init string) string {
			return strings.TrimSuffix(init, "users: []\n")
		}, func(init string) string {
			return strings.TrimSuffix(init, "users: []\n") + "users:\n  - name: alice\n    open: [tcp/22]\n"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := initConfig(t)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			init := string(data)
			if !strings.Contains(init, "\n\n#") || !strings.HasSuffix(init, "users: []\n") {
				t.Fatalf("the init file changed shape; update this test:\n%s", init)
			}
			if tt.prep != nil {
				if err := os.WriteFile(path, []byte(tt.prep(init)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.edit(path); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if diff := cmp.Diff(tt.want(init), string(got)); diff != "" {
				t.Errorf("edited file (-want +got):\n%s", diff)
			}
		})
	}
}
