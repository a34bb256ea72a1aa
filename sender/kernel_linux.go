package sender

import (
	"context"
	"errors"
	"net/netip"
	"os"

	"github.com/otpknock/otpknock/derive"
	"golang.org/x/sys/unix"
)

// Kernel is the Writer that sends through the kernel's sockets: a raw
// TCP SYN when privileged, and otherwise what [Portable] sends (a
// non-blocking connect closed as soon as its SYN left, so nothing
// follows it; one UDP datagram; an ICMP echo request through a ping
// socket, else a raw socket).
type Kernel struct {
	// NoRaw never uses raw sockets, even when privileged.
	NoRaw bool
}

// Write sends one knock.
func (k *Kernel) Write(ctx context.Context, dst netip.Addr, kn derive.Knock) (string, error) {
	dst = dst.Unmap()
	if kn.Proto == derive.TCP && !k.NoRaw {
		err := rawSYN(dst, kn.Port)
		if err == nil {
			return "raw SYN", nil
		}
		if !errors.Is(err, os.ErrPermission) {
			return "", err
		}
	}
	return k.portable().Write(ctx, dst, kn)
}

// WritePayload sends one UDP or ICMP knock carrying payload, as
// [Portable] does.
func (k *Kernel) WritePayload(ctx context.Context, dst netip.Addr, kn derive.Knock, payload []byte) (string, error) {
	return k.portable().WritePayload(ctx, dst, kn, payload)
}

func (k *Kernel) portable() *Portable { return &Portable{NoRaw: k.NoRaw} }

func rawSYN(dst netip.Addr, port uint16) error {
	src, err := routeSource(dst)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(family(dst), unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return sysErr("raw socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
		return sysErr("raw bind", err)
	}
	if err := unix.Sendto(fd, synSegment(src, dst, port), 0, sockaddr(dst, 0)); err != nil {
		return sysErr("raw send", err)
	}
	return nil
}
