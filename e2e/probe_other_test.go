//go:build !linux

package e2e

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// connectWithin reports whether a TCP connect to addr completes within
// d. The namespace benchmarks that use it run on Linux only.
func connectWithin(_ *testing.B, addr netip.AddrPort, d time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr.String(), d)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
