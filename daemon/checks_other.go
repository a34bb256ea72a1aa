//go:build !linux

package daemon

import (
	"fmt"
	"runtime"

	"github.com/otpknock/otpknock/derive"
)

// CheckPrivileges returns an error: the server runs on Linux only.
func CheckPrivileges() error {
	return fmt.Errorf("the otpknock server is not supported on %s", runtime.GOOS)
}

// ListenersInRange returns nothing off Linux.
func ListenersInRange(derive.Params) []string { return nil }
