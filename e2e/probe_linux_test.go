package e2e

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// connectWithin reports whether a TCP connect to addr completes within
// d, as bench/trials.py's does: a non-blocking connect, then poll for
// d. net.DialTimeout would not do: its deadline's timer can fire before
// the goroutine sees the connect completed when the CPU is busy, so an
// open service looked closed for as long as that lasted.
func connectWithin(b *testing.B, addr netip.AddrPort, d time.Duration) bool {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()})
	if err == nil {
		return true
	}
	if err != unix.EINPROGRESS {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if n, err := unix.Poll(fds, int(d.Milliseconds())); err != nil || n == 0 {
		return false
	}
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	return err == nil && soErr == 0
}
