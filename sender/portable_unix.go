//go:build linux || darwin || freebsd

package sender

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"
)

// connectSYN starts a non-blocking connect, whose SYN the kernel sends
// before connect returns, and closes the socket at once: a socket closed
// in SYN-SENT sends no RST and never retransmits. A refused connect
// (an answer already processed, as on loopback) also means the SYN left.
func connectSYN(dst netip.Addr, port uint16) error {
	fd, err := streamSocket(family(dst))
	if err != nil {
		return sysErr("tcp socket", err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, sockaddr(dst, port))
	if err != nil && !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.ECONNREFUSED) {
		return sysErr("tcp connect", err)
	}
	return nil
}

func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}
