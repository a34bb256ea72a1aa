//go:build !linux

package firewall

import (
	"fmt"
	"runtime"
)

// Kernel is the Backend of the running system; Linux only.
type Kernel struct{ Backend }

// NewKernel returns an error: not supported on this GOOS.
func NewKernel() (*Kernel, error) { return nil, errUnsupported() }

func errUnsupported() error {
	return fmt.Errorf("the firewall is not supported on %s", runtime.GOOS)
}
