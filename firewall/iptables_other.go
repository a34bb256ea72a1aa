//go:build !linux

package firewall

import (
	"fmt"
	"runtime"
)

// IPTables is the Backend of the running system; Linux only.
type IPTables struct{ Backend }

// NewIPTables returns an error: not supported on this GOOS.
func NewIPTables() (*IPTables, error) { return nil, errUnsupported() }

func errUnsupported() error {
	return fmt.Errorf("the firewall is not supported on %s", runtime.GOOS)
}
