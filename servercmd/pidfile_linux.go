package servercmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// holdPidFile writes the process's pid to path and holds the file
// locked until release, which removes it: the lock, not the pid, tells
// a live server from a stale file.
func holdPidFile(path string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("pid file %s is held by another server: %w", path, err)
	}
	release = func() { os.Remove(path); f.Close() }
	if err := f.Truncate(0); err != nil {
		release()
		return nil, fmt.Errorf("pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		release()
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return release, nil
}

// pidFileHeld reports whether a process holds the pid file at path
// locked.
func pidFileHeld(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("pid file %s: %w", path, err)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false, nil
}
