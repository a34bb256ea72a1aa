//go:build !linux

package addrwatch

import (
	"context"
	"fmt"
	"runtime"
)

// Kernel is the real Events; this OS gives none to otpknock (a Watcher
// polls instead: see [Supported]).
type Kernel struct{}

// Supported reports whether Kernel gives events on this OS.
const Supported = false

// Subscribe says events are not supported on GOOS.
func (Kernel) Subscribe(context.Context) (<-chan struct{}, error) {
	return nil, fmt.Errorf("address events are not supported on %s (poll instead)", runtime.GOOS)
}
