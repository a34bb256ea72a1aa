package servercmd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// serviceUser is the account the packaged unit runs the server as.
const serviceUser = "otpknock"

// procLocks lists the kernel's file locks, with the pid of each holder.
const procLocks = "/proc/locks"

// checkServerPid reports why pid, read from the pid file at path, must
// not be signalled, or nil. Whoever owns the state directory can write
// the pid file, so its content proves nothing: the file must belong to
// root, the caller or the service user, the kernel must list pid as a
// holder of the file's lock, and pid must run otpknockd (or the
// caller's own executable).
func checkServerPid(path string, pid int) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no owner to check", path)
	}
	if !trustedOwner(int(st.Uid)) {
		return fmt.Errorf("%s belongs to uid %d, neither root nor the %s user", path, st.Uid, serviceUser)
	}
	holders, err := lockHolders(procLocks, st.Ino)
	if err != nil {
		return err
	}
	if !holders[pid] {
		return fmt.Errorf("pid %d named by %s does not hold its lock", pid, path)
	}
	return checkServerExe(pid)
}

// trustedOwner reports whether uid may own a server's pid file: root,
// the caller, or the service user.
func trustedOwner(uid int) bool {
	if uid == 0 || uid == os.Geteuid() {
		return true
	}
	u, err := user.Lookup(serviceUser)
	return err == nil && u.Uid == strconv.Itoa(uid)
}

// lockHolders returns the pids that hold a lock on inode ino, from the
// kernel's lock table at path (/proc/locks). Waiters ("->") hold
// nothing and are skipped.
func lockHolders(path string, ino uint64) (map[int]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel's lock table: %w", err)
	}
	defer f.Close()
	holders := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[1] == "->" {
			continue
		}
		id := strings.Split(fs[5], ":")
		if n, err := strconv.ParseUint(id[len(id)-1], 10, 64); err != nil || n != ino {
			continue
		}
		if pid, err := strconv.Atoi(fs[4]); err == nil && pid > 0 {
			holders[pid] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the kernel's lock table: %w", err)
	}
	return holders, nil
}

// checkServerExe reports whether pid runs otpknockd: an executable
// named otpknockd, or the caller's own (a test binary, a renamed
// build); " (deleted)" marks a binary replaced by an upgrade.
func checkServerExe(pid int) error {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, errors.Unwrap(err))
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if filepath.Base(exe) == "otpknockd" {
		return nil
	}
	if self, err := os.Executable(); err == nil && self == exe {
		return nil
	}
	return fmt.Errorf("pid %d runs %s, not otpknockd", pid, exe)
}
