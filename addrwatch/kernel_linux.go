package addrwatch

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Kernel is the real Events: netlink address and route notifications
// of the network namespace it runs in.
type Kernel struct{}

// Supported reports whether Kernel gives events on this OS.
const Supported = true

// Subscribe joins the address and route multicast groups.
func (Kernel) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	done := make(chan struct{})
	addrs := make(chan netlink.AddrUpdate, 16)
	routes := make(chan netlink.RouteUpdate, 16)
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		close(done)
		return nil, fmt.Errorf("netlink address events: %w", err)
	}
	if err := netlink.RouteSubscribe(routes, done); err != nil {
		close(done)
		return nil, fmt.Errorf("netlink route events: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-addrs:
				if !ok {
					return
				}
			case _, ok := <-routes:
				if !ok {
					return
				}
			}
			select {
			case out <- struct{}{}:
			default: // one pending event covers this one
			}
		}
	}()
	return out, nil
}
