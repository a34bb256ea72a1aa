package profile

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFleetProfileRoundTrip: a fleet profile (a fleet, no server_id)
// saves and loads as it was; one with both, or neither, is refused.
func TestFleetProfileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.yaml")
	p := testProfile("acme", "vpn.example.org")
	p.ServerID, p.Fleet = "", "acme"
	s := &Store{Path: path}
	if err := s.Add(p); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Profile{p}, got.Profiles); diff != "" {
		t.Errorf("loaded profiles (-want +got):\n%s", diff)
	}
	for name, mut := range map[string]func(*Profile){
		"fleet and server_id": func(p *Profile) { p.ServerID = "gw1" },
		"neither":             func(p *Profile) { p.Fleet = "" },
	} {
		t.Run(name, func(t *testing.T) {
			q := p
			mut(&q)
			s := &Store{Path: filepath.Join(t.TempDir(), "c.yaml"), Profiles: []Profile{q}}
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(s.Path); err == nil || !strings.Contains(err.Error(), "server_id") && !strings.Contains(err.Error(), "fleet") {
				t.Fatalf("Load: %v, want an error naming server_id or fleet", err)
			}
		})
	}
}
