//go:build !linux

package servercmd

import (
	"errors"
	"runtime"
)

// checkServerPid: no server runs off Linux, so no pid is signalled.
func checkServerPid(string, int) error {
	return errors.New("signalling a server is not supported on " + runtime.GOOS)
}
