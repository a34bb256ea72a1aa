package sender

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// streamSocket opens a non-blocking, close-on-exec TCP socket. macOS has
// no SOCK_NONBLOCK or SOCK_CLOEXEC: the flags are set after socket(2),
// under the fork lock so no child inherits the descriptor meanwhile.
func streamSocket(family int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
