package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
)

func testProfile(name, host string) Profile {
	p := derive.DefaultParams()
	p.Exclude = []uint16{30000}
	return Profile{Name: name, Account: provision.Account{ServerID: "gw1", User: "alice", Host: host,
		Secret: []byte("0123456789abcdef"), Params: p, Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}}}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvPath: "/x/c.yaml", "XDG_CONFIG_HOME": "/y", "HOME": "/h"}, "/x/c.yaml"},
		{map[string]string{"XDG_CONFIG_HOME": "/y", "HOME": "/h"}, "/y/otpknock/client.yaml"},
		{map[string]string{"HOME": "/h"}, "/h/.config/otpknock/client.yaml"},
	}
	for _, tt := range tests {
		got, err := DefaultPath(func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("DefaultPath(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
	if _, err := DefaultPath(func(string) string { return "" }); err == nil {
		t.Errorf("DefaultPath with no environment succeeded")
	}
}

func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "client.yaml")
	s, err := Load(path)
	if err != nil || len(s.Profiles) != 0 {
		t.Fatalf("Load(missing) = %+v, %v; want an empty store", s, err)
	}
	for _, p := range []Profile{testProfile("work", "198.18.0.1"), testProfile("home", "2001:2::1")} {
		if err := s.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(testProfile("work", "x")); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Errorf("duplicate Add: err = %v", err)
	}
	if err := s.Add(testProfile("bad name", "x")); err == nil {
		t.Errorf("Add with a bad name succeeded")
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("store mode %04o, want 0600", st.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("reloaded store (-want +got):\n%s", diff)
	}
	if p, err := got.Lookup("2001:2::1"); err != nil || p.Name != "home" {
		t.Errorf("Lookup(host) = %v, %v", p.Name, err)
	}
	if _, err := got.Lookup(""); err == nil || !strings.Contains(err.Error(), "home, work") {
		t.Errorf("Lookup(\"\") with two profiles: err = %v", err)
	}
	if err := got.Remove("home"); err != nil {
		t.Fatal(err)
	}
	if p, err := got.Lookup(""); err != nil || p.Name != "work" {
		t.Errorf("Lookup(\"\") with one profile = %v, %v", p.Name, err)
	}
	if err := got.Remove("home"); err == nil || !strings.Contains(err.Error(), "have: work") {
		t.Errorf("Remove(missing): err = %v", err)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), mode)
		os.Chmod(p, mode)
		return p
	}
	tests := []struct{ name, path, want string }{
		{"readable by others", write("open.yaml", "profiles: []\n", 0o644), "chmod 600"},
		{"unknown key", write("typo.yaml", "profile: []\n", 0o600), "field profile not found"},
		{"bad secret", write("secret.yaml", "profiles: [{name: a, server_id: s, user: u, host: h, secret: AAAA, step: 30s, knocks: 4, knock_range: 20000-59999, protocols: [tcp, udp]}]\n", 0o600), "profiles[0] (a): secret: 16 bits, need at least 128"},
		{"weak params", write("weak.yaml", "profiles: [{name: a, server_id: s, user: u, host: h, secret: GAYTEMZUGU3DOOBZGAYTEMZUGU3DOOBZ, step: 30s, knocks: 2, knock_range: 20000-59999, protocols: [tcp, udp]}]\n", 0o600), "profiles[0] (a): knocks, protocols, knock_range: 32.6 bits per sequence, below the minimum of 48"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestState(t *testing.T) {
	path := StatePath(filepath.Join(t.TempDir(), "cfg", "client.yaml"))
	s, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LastStep("work"); ok {
		t.Errorf("empty state has a step")
	}
	for _, step := range []uint64{100, 99, 101} {
		if err := s.Record("work", step); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.LastStep("work"); !ok || v != 101 {
		t.Errorf("LastStep = %d, %v; want 101 (never moves back)", v, ok)
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("corrupt state: %v", err)
	}
}
