package addrwatch

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Kernel is the real Events: the rtnetlink address and route
// notifications of the network namespace it runs in. It reads the
// socket with golang.org/x/sys/unix alone (any message is an event), so
// the client links no netlink library.
type Kernel struct{}

// Supported reports whether Kernel gives events on this OS.
const Supported = true

// groups are the rtnetlink multicast groups of address and route changes.
const groups = unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE

// Subscribe joins the address and route groups; the socket closes when
// ctx ends.
func (Kernel) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink address and route events: %w", err)
	}
	f := os.NewFile(uintptr(fd), "rtnetlink") // non-blocking: in the runtime's poller, so Close ends a Read
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	out := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			// A full socket buffer (ENOBUFS) lost events: still one.
			if _, err := f.Read(buf); err != nil && !errors.Is(err, unix.ENOBUFS) {
				return
			}
			select {
			case out <- struct{}{}:
			default: // one pending event covers this one
			}
		}
	}()
	return out, nil
}
