package sender

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fionbio is the ioctl that makes a socket non-blocking (winsock2.h).
const fionbio = 0x8004667e

// connectSYN starts a non-blocking connect and closes the socket at once
// (a socket closed in SYN-SENT sends no RST and never retransmits).
// Winsock answers such a connect with WSAEWOULDBLOCK.
func connectSYN(dst netip.Addr, port uint16) error {
	var sa windows.Sockaddr = &windows.SockaddrInet4{Port: int(port), Addr: dst.As4()}
	family := windows.AF_INET
	if dst.Is6() {
		sa, family = &windows.SockaddrInet6{Port: int(port), Addr: dst.As16()}, windows.AF_INET6
	}
	fd, err := windows.Socket(family, windows.SOCK_STREAM, windows.IPPROTO_TCP)
	if err != nil {
		return sysErr("tcp socket", err)
	}
	defer windows.Closesocket(fd)
	on, n := uint32(1), uint32(0)
	if err := windows.WSAIoctl(fd, fionbio, (*byte)(unsafe.Pointer(&on)), 4, nil, 0, &n, nil, 0); err != nil {
		return sysErr("tcp non-blocking", err)
	}
	err = windows.Connect(fd, sa)
	if err != nil && !errors.Is(err, windows.WSAEWOULDBLOCK) && !errors.Is(err, windows.WSAECONNREFUSED) {
		return sysErr("tcp connect", err)
	}
	return nil
}

// sysErr maps access-denied errors to os.ErrPermission.
func sysErr(op string, err error) error {
	if errors.Is(err, windows.WSAEACCES) || errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return fmt.Errorf("%s: %w (%v)", op, os.ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
