package profile

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRename(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string // names after, sorted
		err      string
	}{
		{"renamed and sorted", "b", "z", []string{"a", "z"}, ""},
		{"missing", "c", "z", nil, `no profile "c"`},
		{"taken", "b", "a", nil, `a profile named "a" exists`},
		{"same", "b", "b", nil, "already has that name"},
		{"bad name", "b", "x y", nil, "must be 1-64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Path: filepath.Join(t.TempDir(), "client.yaml"), Profiles: []Profile{testProfile("a", "h1"), testProfile("b", "h2")}}
			err := s.Rename(tt.old, tt.new)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if diff := cmp.Diff([]string{"a", "b"}, profileNames(s)); diff != "" {
					t.Errorf("a refused rename changed the store (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, profileNames(s)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImported(t *testing.T) {
	s := &Store{Profiles: []Profile{testProfile("work", "h1")}}
	same := testProfile("x", "other-host").Account
	otherSecret := same
	otherSecret.Secret = []byte("fedcba9876543210")
	otherUser := same
	otherUser.User = "bob"
	tests := []struct {
		name string
		got  func() (string, bool)
		want string
	}{
		{"same account, other host", func() (string, bool) { return s.Imported(same) }, "work"},
		{"other secret", func() (string, bool) { return s.Imported(otherSecret) }, ""},
		{"other user", func() (string, bool) { return s.Imported(otherUser) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, ok := tt.got()
			if name != tt.want || ok != (tt.want != "") {
				t.Errorf("Imported = %q, %v; want %q", name, ok, tt.want)
			}
		})
	}
}

func TestStateRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st, _ := LoadState(path)
	if err := st.Record("a", 7); err != nil {
		t.Fatal(err)
	}
	if err := st.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	again, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]uint64{"b": 7}, again.Last); diff != "" {
		t.Errorf("state after rename (-want +got):\n%s", diff)
	}
}

func profileNames(s *Store) []string {
	var n []string
	for _, p := range s.Profiles {
		n = append(n, p.Name)
	}
	return n
}
