//go:build unix

package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	for _, perm := range []os.FileMode{0o600, 0o640} {
		if err := Write(path, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != perm {
			t.Errorf("mode %04o, want %04o", st.Mode().Perm(), perm)
		}
	}
}

func TestCheckPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(path, []byte("x"), 0o600)
	if err := CheckPrivate(path); err != nil {
		t.Errorf("0600: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o666} {
		os.Chmod(path, mode)
		if err := CheckPrivate(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v", mode, err)
		}
	}
}
