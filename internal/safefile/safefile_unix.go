//go:build unix

package safefile

import (
	"fmt"
	"os"
	"syscall"
)

// chownLike gives f the owner and group of ref when the process runs as
// root; otherwise it does nothing.
func chownLike(f *os.File, ref os.FileInfo) error {
	sys, ok := ref.Sys().(*syscall.Stat_t)
	if os.Geteuid() != 0 || !ok {
		return nil
	}
	return f.Chown(int(sys.Uid), int(sys.Gid))
}

// setPerm sets f's permission bits.
func setPerm(f *os.File, perm os.FileMode) error { return f.Chmod(perm) }

// syncDir makes a rename in dir durable; errors are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// CheckPrivate returns an error unless the file at path is readable by
// its owner only (no group or other permission bits), as secrets must be.
func CheckPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, readable by others: run chmod 600 %s", path, mode, path)
	}
	return nil
}
