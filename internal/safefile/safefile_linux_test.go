package safefile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/internal/safefile/safefiletest"
)

// TestWriteOwned: as root, the file has ref's owner and the mode before
// it is renamed into place, nothing touches its name afterwards, and a
// symlink the owner planted at the name is replaced, its target left
// alone.
func TestWriteOwned(t *testing.T) {
	netnstest.Require(t) // root, to give files another owner
	dir := t.TempDir()
	const uid, gid = 4242, 4243
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	ref, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(victim, []byte("root's"), 0o600)
	path := filepath.Join(dir, "alice.key")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	w := safefiletest.Watch(t, dir)
	if err := WriteOwned(path, []byte("secret"), 0o600, ref); err != nil {
		t.Fatal(err)
	}
	events := w.Events(t)
	after, err := safefiletest.After(events, "moved-to", "alice.key")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Errorf("alice.key changed after the rename: %v (all: %v)", after, events)
	}
	for _, c := range []struct {
		path     string
		uid, gid uint32
		mode     os.FileMode
	}{{path, uid, gid, 0o600}, {victim, 0, 0, 0o600}} {
		st, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		s := st.Sys().(*syscall.Stat_t)
		if s.Uid != c.uid || s.Gid != c.gid || st.Mode() != c.mode {
			t.Errorf("%s: %d:%d %v, want %d:%d %v", c.path, s.Uid, s.Gid, st.Mode(), c.uid, c.gid, c.mode)
		}
	}
}
