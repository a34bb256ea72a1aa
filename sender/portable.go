package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/otpknock/otpknock/derive"
)

// PayloadWriter is a Writer that can also send a knock carrying a
// payload (packet mode): a UDP datagram with that payload, or an ICMP
// echo request whose data is the payload. A TCP knock is a bare SYN and
// carries none: WritePayload returns [ErrTCPPayload] for it.
type PayloadWriter interface {
	// WritePayload sends knock k to dst with payload and says how, like
	// Writer.Write.
	WritePayload(ctx context.Context, dst netip.Addr, k derive.Knock, payload []byte) (how string, err error)
}

// ErrTCPPayload is returned when a TCP knock is asked to carry a
// payload: the knock is a SYN, which carries no data.
var ErrTCPPayload = errors.New("a tcp knock is a bare SYN and carries no payload")

// Every real writer also carries payloads.
var (
	_ PayloadWriter = (*Portable)(nil)
	_ PayloadWriter = (*Kernel)(nil)
)

// Portable is the Writer for every OS and for unprivileged users. A TCP
// knock is a non-blocking connect closed as soon as its SYN left (a
// socket closed in SYN-SENT sends no RST and never retransmits), a UDP
// knock one datagram, an ICMP knock one echo request whose sequence
// number is the knock's value, sent through an unprivileged ICMP
// datagram ("ping") socket where the OS has them (Linux within
// net.ipv4.ping_group_range, macOS) and else through a raw socket (root,
// or an administrator on Windows).
type Portable struct {
	// NoRaw never uses raw sockets, even when privileged.
	NoRaw bool
}

// Write sends one knock without payload.
func (p *Portable) Write(_ context.Context, dst netip.Addr, k derive.Knock) (string, error) {
	return p.send(dst, k, nil)
}

// WritePayload sends one UDP or ICMP knock carrying payload.
func (p *Portable) WritePayload(_ context.Context, dst netip.Addr, k derive.Knock, payload []byte) (string, error) {
	if k.Proto == derive.TCP {
		return "", fmt.Errorf("%v: %w", k, ErrTCPPayload)
	}
	return p.send(dst, k, payload)
}

func (p *Portable) send(dst netip.Addr, k derive.Knock, payload []byte) (string, error) {
	dst = dst.Unmap()
	var how string
	var err error
	switch k.Proto {
	case derive.TCP:
		how, err = "connect", connectSYN(dst, k.Port)
	case derive.UDP:
		how, err = "udp socket", sendUDP(dst, k.Port, payload)
	case derive.ICMP:
		how, err = echo(dst, k.Port, payload, p.NoRaw)
	default:
		err = fmt.Errorf("unknown protocol %v", k.Proto)
	}
	if err != nil {
		return "", err
	}
	return how, nil
}

// sendUDP sends one datagram with payload (possibly empty) to dst:port.
func sendUDP(dst netip.Addr, port uint16, payload []byte) error {
	network := "udp4"
	if dst.Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		return sysErr("udp socket", err)
	}
	defer c.Close()
	if _, err := c.WriteToUDPAddrPort(payload, netip.AddrPortFrom(dst, port)); err != nil {
		return sysErr("udp send", err)
	}
	return nil
}
