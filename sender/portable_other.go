//go:build !linux && !darwin && !freebsd && !windows

package sender

import (
	"fmt"
	"net/netip"
	"runtime"
)

// connectSYN returns an error: TCP knocks are not supported on this GOOS.
func connectSYN(netip.Addr, uint16) error {
	return fmt.Errorf("tcp knocks are not supported on %s", runtime.GOOS)
}
