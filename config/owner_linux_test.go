package config

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/internal/safefile/safefiletest"
)

// TestEditsNeverChownByPath: as root, the config and a new secret get
// their owner before they appear under their name; nothing changes the
// name afterwards. A chown by path after the rename would follow a
// symlink the service user swapped in and hand it any file.
func TestEditsNeverChownByPath(t *testing.T) {
	netnstest.Require(t) // root, to give files another owner
	path := initConfig(t)
	const uid, gid = 4242, 4243
	dir := filepath.Dir(path)
	secrets := filepath.Join(dir, "secrets")
	os.MkdirAll(secrets, 0o700)
	for _, f := range []string{path, secrets} {
		if err := os.Chown(f, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	w := safefiletest.Watch(t, dir)
	c, err := AddUser(path, NewUser{Name: "alice", Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	assertLastMove(t, w.Events(t), path, uid, gid)
	w = safefiletest.Watch(t, secrets)
	if err := c.WriteSecret("alice", []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	assertLastMove(t, w.Events(t), c.SecretPath("alice"), uid, gid)
}

// assertLastMove checks that moving path into place was the last change
// in its directory and that it has the owner uid:gid.
func assertLastMove(t *testing.T, events []safefiletest.Event, path string, uid, gid uint32) {
	t.Helper()
	after, err := safefiletest.After(events, "moved-to", filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Errorf("%s changed after it was renamed into place: %v (all: %v)", path, after, events)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Sys().(*syscall.Stat_t); s.Uid != uid || s.Gid != gid {
		t.Errorf("%s owned by %d:%d, want %d:%d", path, s.Uid, s.Gid, uid, gid)
	}
}

// TestEditsKeepOwners: as root, editing the config keeps its owner and a
// new secret takes the owner of the secrets directory, so the service
// user can still read both.
func TestEditsKeepOwners(t *testing.T) {
	netnstest.Require(t) // root, to own files as another user
	path := initConfig(t)
	const svc = 65534
	secrets := filepath.Join(filepath.Dir(path), "secrets")
	os.MkdirAll(secrets, 0o700)
	os.Chown(path, svc, svc)
	os.Chown(secrets, svc, svc)
	c, err := AddUser(path, NewUser{Name: "alice", Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteSecret("alice", []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, c.SecretPath("alice")} {
		st, _ := os.Stat(f)
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != svc {
			t.Errorf("%s owned by %d, want %d", f, uid, svc)
		}
	}
}
