package profile

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

func TestPathFor(t *testing.T) {
	j := filepath.Join
	xdgFile := j("/h", ".config", "otpknock", "client.yaml")
	macFile := j("/h", "Library", "Application Support", "otpknock", "client.yaml")
	tests := []struct {
		name  string
		goos  string
		env   map[string]string
		files []string // files that exist
		want  string
		err   string
	}{
		{"linux: the variable first", "linux", map[string]string{EnvPath: "/x/c.yaml", "XDG_CONFIG_HOME": "/y", "HOME": "/h"}, nil, "/x/c.yaml", ""},
		{"linux: XDG_CONFIG_HOME", "linux", map[string]string{"XDG_CONFIG_HOME": "/y", "HOME": "/h"}, nil, j("/y", "otpknock", "client.yaml"), ""},
		{"linux: ~/.config", "linux", map[string]string{"HOME": "/h"}, nil, xdgFile, ""},
		{"freebsd: ~/.config", "freebsd", map[string]string{"HOME": "/h"}, nil, xdgFile, ""},
		{"linux: nothing set", "linux", nil, nil, "", "set OTPKNOCK_CLIENT_CONFIG, XDG_CONFIG_HOME or HOME"},
		{"darwin: Application Support", "darwin", map[string]string{"HOME": "/h"}, nil, macFile, ""},
		{"darwin: the old XDG file is kept", "darwin", map[string]string{"HOME": "/h"}, []string{xdgFile}, xdgFile, ""},
		{"darwin: Application Support wins over XDG", "darwin", map[string]string{"HOME": "/h"}, []string{xdgFile, macFile}, macFile, ""},
		{"darwin: the variable first", "darwin", map[string]string{EnvPath: "/x/c.yaml", "HOME": "/h"}, nil, "/x/c.yaml", ""},
		{"windows: AppData", "windows", map[string]string{"AppData": `C:\Users\a\AppData\Roaming`, "HOME": "/h"}, []string{xdgFile},
			j(`C:\Users\a\AppData\Roaming`, "otpknock", "client.yaml"), ""},
		{"windows: no AppData", "windows", map[string]string{"HOME": "/h"}, nil, "", "set OTPKNOCK_CLIENT_CONFIG or %AppData%"},
		{"windows: the variable first", "windows", map[string]string{EnvPath: `D:\c.yaml`}, nil, `D:\c.yaml`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exists := func(p string) bool { return slices.Contains(tt.files, p) }
			got, err := PathFor(tt.goos, func(k string) string { return tt.env[k] }, exists)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || !strings.Contains(gotErr, tt.err) || (tt.err == "") != (err == nil) {
				t.Errorf("PathFor(%s) = %q, %v; want %q, %q", tt.goos, got, err, tt.want, tt.err)
			}
		})
	}
}

// TestDefaultPathIsUserConfigDir checks that, without the variable, the
// running OS's path is under os.UserConfigDir (or the XDG location
// DefaultPath keeps reading).
func TestDefaultPathIsUserConfigDir(t *testing.T) {
	t.Setenv(EnvPath, "")
	dir, dirErr := os.UserConfigDir()
	got, err := DefaultPath(os.Getenv)
	if (err == nil) != (dirErr == nil) {
		t.Fatalf("DefaultPath = %q, %v; os.UserConfigDir = %q, %v", got, err, dir, dirErr)
	}
	if want := filepath.Join(dir, "otpknock", "client.yaml"); got != want && runtime.GOOS != "darwin" {
		t.Errorf("DefaultPath = %q, want %q", got, want)
	}
}

func TestPacketProfileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.yaml")
	s := &Store{Path: path}
	pk := testProfile("pk", "198.18.0.1")
	pk.Knock = derive.ModePacket
	for _, p := range []Profile{testProfile("seq", "198.18.0.1"), pk} {
		if err := s.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "knock: packet\n"); n != 1 || strings.Contains(string(data), "knock: sequence") {
		t.Errorf("file holds knock: packet %d times (want once, sequences omit the field):\n%s", n, data)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("reloaded store (-want +got):\n%s", diff)
	}
	// From a URI, as import stores it.
	uri, err := pk.Account.URI()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := provision.ParseURI(uri)
	if err != nil || acct.Knock != derive.ModePacket {
		t.Fatalf("ParseURI(%s) = knock %v, %v", uri, acct.Knock, err)
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
		{"unknown key", write("typo.yaml", "profile: []\n", 0o600), "typo.yaml: line 1: unknown field profile"},
		{"unknown key twice", write("typo2.yaml", "profiles:\n  - name: a\n    profileFile: x\n  - name: b\n    profileFile: y\n", 0o600),
			"typo2.yaml: line 3: unknown field profileFile; line 5: unknown field profileFile"},
		{"step without unit", write("step.yaml", "profiles:\n  - name: a\n    step: 30\n", 0o600), "step.yaml: line 3: profiles[0].step: 30 is not a duration: add a unit, e.g. 30s"},
		{"directory", func() string { p := filepath.Join(dir, "sub"); os.Mkdir(p, 0o755); return p }(), "sub is a directory, not a file"},
		{"bad secret", write("secret.yaml", "profiles: [{name: a, server_id: s, user: u, host: h, secret: AAAA, step: 30s, knocks: 4, knock_range: 20000-59999, protocols: [tcp, udp]}]\n", 0o600), "profiles[0] (a): secret: 16 bits, need at least 128"},
		{"packet over tcp", write("pktcp.yaml", "profiles: [{name: a, server_id: s, user: u, host: h, secret: GAYTEMZUGU3DOOBZGAYTEMZUGU3DOOBZ, step: 30s, knocks: 4, knock_range: 20000-59999, protocols: [tcp], knock: packet}]\n", 0o600), "profiles[0] (a): knock: packet: protocols: packet knocks need udp or icmp"},
		{"unknown mode", write("mode.yaml", "profiles: [{name: a, server_id: s, user: u, host: h, secret: GAYTEMZUGU3DOOBZGAYTEMZUGU3DOOBZ, step: 30s, knocks: 4, knock_range: 20000-59999, protocols: [udp], knock: pulse}]\n", 0o600), `"pulse" must be sequence or packet`},
		{"weak params", write("weak.yaml", "profiles: [{name: a, server_id: s, user: u, host: h, secret: GAYTEMZUGU3DOOBZGAYTEMZUGU3DOOBZ, step: 30s, knocks: 2, knock_range: 20000-59999, protocols: [tcp, udp]}]\n", 0o600), "profiles[0] (a): knocks, protocols, knock_range: 32.6 bits per sequence, below the minimum of 48"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load() error = %v, want one line containing %q", err, tt.want)
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

// TestLookupAmbiguousHost checks that a host several profiles knock
// asks for one of their names, and names no flag that show lacks.
func TestLookupAmbiguousHost(t *testing.T) {
	s := &Store{Path: "client.yaml"}
	for _, p := range []Profile{testProfile("work", "198.18.0.1"), testProfile("admin", "198.18.0.1")} {
		if err := s.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Lookup("198.18.0.1")
	if want := "2 profiles knock 198.18.0.1: name one of them (admin, work)"; err == nil || err.Error() != want {
		t.Errorf("Lookup(shared host) = %v, want %q", err, want)
	}
}
