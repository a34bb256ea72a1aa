//go:build !linux

package servercmd

import (
	"errors"
	"runtime"
)

// holdPidFile is not supported off Linux, where the server does not run.
func holdPidFile(string) (func(), error) {
	return nil, errors.New("pid file: not supported on " + runtime.GOOS)
}

// pidFileHeld: no server runs off Linux.
func pidFileHeld(string) (bool, error) { return false, nil }
