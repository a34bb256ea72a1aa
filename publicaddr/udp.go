package publicaddr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
)

// Exchanger sends one request datagram from the local address to a
// server and returns the first datagram the server sends back. It
// returns when ctx is done, with an error. It is the package's only
// contact with the network.
type Exchanger interface {
	Exchange(ctx context.Context, local netip.Addr, server netip.AddrPort, req []byte) ([]byte, error)
}

// UDP is the real Exchanger: a UDP socket bound to the local address
// (any port; the unspecified address when local is invalid) and
// connected to the server, so only the server's datagrams are read.
type UDP struct{}

// maxDatagram bounds a reply; a binding response is well under it.
const maxDatagram = 1500

// Exchange sends req to server and reads one reply.
func (UDP) Exchange(ctx context.Context, local netip.Addr, server netip.AddrPort, req []byte) ([]byte, error) {
	d := net.Dialer{}
	if local.IsValid() {
		d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0))
	}
	conn, err := d.DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, fmt.Errorf("stun %v: %w", server, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("stun %v: %w", server, err)
	}
	buf := make([]byte, maxDatagram)
	n, err := conn.Read(buf)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("stun %v: no answer: %w", server, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("stun %v: %w", server, err)
	}
	return buf[:n], nil
}
