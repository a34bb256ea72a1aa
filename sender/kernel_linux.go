package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/errno"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Kernel is the Writer that sends through the kernel's sockets: a raw
// TCP SYN when privileged (else a non-blocking connect closed as soon as
// its SYN left, so nothing follows it), one empty UDP datagram, and an
// ICMP echo request through a ping socket (else a raw socket).
type Kernel struct {
	// NoRaw never uses raw sockets, even when privileged.
	NoRaw bool
}

// Write sends one knock.
func (k *Kernel) Write(_ context.Context, dst netip.Addr, kn derive.Knock) (string, error) {
	dst = dst.Unmap()
	switch kn.Proto {
	case derive.TCP:
		if !k.NoRaw {
			err := rawSYN(dst, kn.Port)
			if err == nil {
				return "raw SYN", nil
			}
			if !errors.Is(err, os.ErrPermission) {
				return "", err
			}
		}
		return "connect", connectSYN(dst, kn.Port)
	case derive.UDP:
		return "udp socket", sendUDP(dst, kn.Port)
	case derive.ICMP:
		return k.echo(dst, kn.Port)
	}
	return "", fmt.Errorf("unknown protocol %v", kn.Proto)
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

// sysErr maps permission errnos to os.ErrPermission.
func sysErr(op string, err error) error { return errno.Wrap(op, err, "") }

// connectSYN starts a non-blocking connect, whose SYN the kernel sends
// before connect returns, and closes the socket at once: a socket closed
// in SYN-SENT sends no RST and never retransmits.
func connectSYN(dst netip.Addr, port uint16) error {
	fd, err := unix.Socket(family(dst), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return sysErr("tcp socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sockaddr(dst, port)); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return sysErr("tcp connect", err)
	}
	return nil
}

func sendUDP(dst netip.Addr, port uint16) error {
	fd, err := unix.Socket(family(dst), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return sysErr("udp socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, nil, 0, sockaddr(dst, port)); err != nil {
		return sysErr("udp send", err)
	}
	return nil
}

// routeSource returns the local address the kernel routes dst from. A
// connected UDP socket sends nothing.
func routeSource(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %v: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// RouteSource returns the local address of the route to dst: the source
// address the server sees when no NAT is in between.
func RouteSource(dst netip.Addr) (netip.Addr, error) { return routeSource(dst.Unmap()) }

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

// echo sends an ICMP or ICMPv6 echo request whose sequence number is seq.
func (k *Kernel) echo(dst netip.Addr, seq uint16) (string, error) {
	ping, raw, typ := "udp4", "ip4:icmp", icmp.Type(ipv4.ICMPTypeEcho)
	if dst.Is6() {
		ping, raw, typ = "udp6", "ip6:ipv6-icmp", ipv6.ICMPTypeEchoRequest
	}
	how := "ping socket"
	c, err := icmp.ListenPacket(ping, "")
	if err != nil && !k.NoRaw {
		how = "raw socket"
		c, err = icmp.ListenPacket(raw, "")
	}
	if err != nil {
		return "", fmt.Errorf("icmp knock needs a ping socket (allow your group in sysctl net.ipv4.ping_group_range) or a raw socket (root or CAP_NET_RAW): %w", os.ErrPermission)
	}
	defer c.Close()
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: int(seq)}}).Marshal(nil)
	if err != nil {
		return "", err
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice()}
	if how == "raw socket" {
		to = &net.IPAddr{IP: dst.AsSlice()}
	}
	if _, err := c.WriteTo(b, to); err != nil {
		return "", sysErr("icmp send", err)
	}
	return how, nil
}
