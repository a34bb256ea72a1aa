//go:build unix

package servercmd

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/otpknock/otpknock/config"
)

// TestAccessChecks: server --check, run as root, finds what the service
// user cannot read or write although root can: the config init wrote
// 0600, a secret root owns, a state directory it cannot write; and
// passes once they are shared as the guide describes.
func TestAccessChecks(t *testing.T) {
	dir := t.TempDir()
	// t.TempDir's directories are 0700: open them to others, as /etc is.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	path := filepath.Join(dir, "config.yaml")
	if _, err := config.WriteInit(path, config.InitOptions{ServerID: "gw1", Host: "198.18.0.1", StateFile: "state/state.json"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.AddUser(path, config.NewUser{Name: "alice", Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.WriteSecret("alice", []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	st, _ := os.Stat(path)
	gid := int(st.Sys().(*syscall.Stat_t).Gid)
	// A service user that owns none of the files and is in their group.
	svc := principal{name: "otpknock", uid: 4242, gids: []int{gid}}
	results := func() []string {
		var out []string
		for _, r := range accessChecks(cfg, svc) {
			if r.err != nil {
				out = append(out, "FAIL "+r.err.Error())
			} else {
				out = append(out, "ok "+r.ok)
			}
		}
		return out
	}
	got := results()
	for i, want := range []string{
		"FAIL service user otpknock cannot read " + path,
		"FAIL service user otpknock cannot enter " + cfg.SecretsDir,
		"FAIL service user otpknock cannot write in " + filepath.Join(dir, "state"),
	} {
		if i >= len(got) || !strings.HasPrefix(got[i], want) {
			t.Errorf("check %d: %q, want it to start %q (all: %q)", i, got, want, got)
		}
	}
	if len(got) == 3 && !strings.Contains(got[0], "chgrp otpknock "+path+" && chmod g+r "+path) {
		t.Errorf("the config's line does not say how to share it: %q", got[0])
	}
	// Shared: config group-readable, secrets and state the service's.
	os.Chmod(path, 0o640)
	svc.uid = int(st.Sys().(*syscall.Stat_t).Uid) // owner of secrets_dir, its files and the state dir
	for _, line := range results() {
		if !strings.HasPrefix(line, "ok ") {
			t.Errorf("after sharing: %s", line)
		}
	}
}

// TestAllowed checks the mode-bit rule: the owner's class, else the
// group's, else the others'; root passes.
func TestAllowed(t *testing.T) {
	p := principal{uid: 100, gids: []int{200, 201}}
	tests := []struct {
		name     string
		uid, gid uint32
		perm     uint32
		want     uint32
		ok       bool
	}{
		{"owner reads 0600", 100, 0, 0o600, canRead, true},
		{"owner class decides even when others may", 100, 0, 0o077, canRead, false},
		{"group reads 0640", 0, 201, 0o640, canRead, true},
		{"group refused 0600", 0, 201, 0o600, canRead, false},
		{"others 0644", 0, 0, 0o644, canRead, true},
		{"others refused 0640", 0, 0, 0o640, canRead, false},
		{"enter 0750 as group", 0, 200, 0o750, canEnter, true},
		{"write needs w and x", 100, 0, 0o600, canWrite | canEnter, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allowed(tt.uid, tt.gid, tt.perm, p, tt.want); got != tt.ok {
				t.Errorf("allowed = %v, want %v", got, tt.ok)
			}
		})
	}
	if !allowed(1, 1, 0, principal{uid: 0}, canRead) {
		t.Errorf("root refused")
	}
}
