//go:build !linux

package sender

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"

	"github.com/otpknock/otpknock/derive"
)

// Kernel is the Writer that sends through the kernel's sockets; it is
// implemented on Linux only.
type Kernel struct {
	// NoRaw never uses raw sockets, even when privileged.
	NoRaw bool
}

// Write returns an error: sending knocks is not supported on this GOOS.
func (k *Kernel) Write(context.Context, netip.Addr, derive.Knock) (string, error) {
	return "", fmt.Errorf("sending knocks is not supported on %s", runtime.GOOS)
}

// RouteSource returns an error: not supported on this GOOS.
func RouteSource(netip.Addr) (netip.Addr, error) {
	return netip.Addr{}, fmt.Errorf("finding the route source is not supported on %s", runtime.GOOS)
}
