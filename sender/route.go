package sender

import (
	"fmt"
	"net"
	"net/netip"
)

// RouteSource returns the local address of the route to dst: the source
// address the server sees when no NAT is in between. It connects a UDP
// socket, which sends nothing, and reads its local address.
func RouteSource(dst netip.Addr) (netip.Addr, error) { return routeSource(dst.Unmap()) }

func routeSource(dst netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %v: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
