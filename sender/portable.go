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
// echo request whose data is the payload: a knock whose protocol can
// carry one ([derive.ProtoInfo.Payload]). A TCP knock is a bare SYN and
// carries none: WritePayload returns [ErrProtoPayload] for it.
type PayloadWriter interface {
	// WritePayload sends knock k to dst with payload and says how, like
	// Writer.Write.
	WritePayload(ctx context.Context, dst netip.Addr, k derive.Knock, payload []byte) (how string, err error)
}

// ErrProtoPayload is returned when a knock whose protocol carries no
// payload (a TCP knock: a SYN, which carries no data) is asked to carry
// one.
var ErrProtoPayload = errors.New("its protocol carries no payload (a tcp knock is a bare SYN)")

// checkPayload refuses a payload on a knock whose protocol cannot carry
// one.
func checkPayload(k derive.Knock) error {
	if r, _ := k.Proto.Info(); !r.Payload {
		return fmt.Errorf("%v: %w", k, ErrProtoPayload)
	}
	return nil
}

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
	if err := checkPayload(k); err != nil {
		return "", err
	}
	return p.send(dst, k, payload)
}

// sendFunc sends one knock's value, with payload when its protocol
// carries one, and says by which socket.
type sendFunc func(dst netip.Addr, value uint16, payload []byte) (how string, err error)

// wire is the sender's wire code of one protocol: what [Portable.Describe]
// says and the function that sends. It is the one place the sender
// dispatches on a protocol; the facts about protocols are the rows of
// [derive.ProtoTable].
func (p *Portable) wire(proto derive.Proto) (describe string, send sendFunc) {
	switch proto {
	case derive.TCP:
		return "connect", func(dst netip.Addr, port uint16, _ []byte) (string, error) {
			return "connect", connectSYN(dst, port)
		}
	case derive.UDP:
		return "udp socket", func(dst netip.Addr, port uint16, payload []byte) (string, error) {
			return "udp socket", sendUDP(dst, port, payload)
		}
	case derive.ICMP:
		describe = "ping socket, else raw socket"
		if p.NoRaw {
			describe = "ping socket"
		}
		return describe, func(dst netip.Addr, seq uint16, payload []byte) (string, error) {
			return echo(dst, seq, payload, p.NoRaw)
		}
	}
	return "unknown protocol", nil
}

func (p *Portable) send(dst netip.Addr, k derive.Knock, payload []byte) (string, error) {
	_, send := p.wire(k.Proto)
	if send == nil {
		return "", fmt.Errorf("unknown protocol %v", k.Proto)
	}
	how, err := send(dst.Unmap(), k.Port, payload)
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
