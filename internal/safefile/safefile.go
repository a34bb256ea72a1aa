package safefile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Write replaces path with data: it writes a temporary file in the same
// directory with mode perm, syncs it, renames it over path and syncs the
// directory.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after the rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ChownTo gives path the owner and group recorded in ref when the
// process runs as root, so files an administrator edits stay readable by
// the service user that owns them; otherwise it does nothing.
func ChownTo(path string, ref os.FileInfo) error {
	sys, ok := ref.Sys().(*syscall.Stat_t)
	if os.Geteuid() != 0 || !ok {
		return nil
	}
	return os.Chown(path, int(sys.Uid), int(sys.Gid))
}

// CheckPrivate returns an error unless the file at path is readable by
// its owner only (no group or other permission bits), as secrets must be.
func CheckPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, readable by others: run chmod 600 %s", path, mode, path)
	}
	return nil
}
