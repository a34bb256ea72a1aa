//go:build linux

package attack

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestLabReachability checks the topology: every host reaches the
// server, over IPv4, and the client over IPv6; the NAT's clients arrive
// from the NAT's address.
func TestLabReachability(t *testing.T) {
	netnstest.Require(t, "iptables")
	l := netnstest.NewLab(t)
	ln := l.Listen(t, l.Server, "tcp", "[::]:7")
	from := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	for _, h := range []struct{ ns, dst, want string }{
		{l.Client, "198.18.1.1:7", "198.18.2.2"}, {l.Attacker, "198.18.1.1:7", "198.18.2.66"},
		{l.NatA, "198.18.1.1:7", "198.18.2.100"}, {l.NatB, "198.18.1.1:7", "198.18.2.100"},
		{l.Client, "[2001:2:1::1]:7", "2001:2:2::2"},
	} {
		var err error
		l.Do(t, h.ns, func() {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", h.dst, 2*time.Second); err == nil {
				c.Close()
			}
		})
		if err != nil {
			t.Fatalf("%s -> %s: %v", h.ns, h.dst, err)
		}
		if got := <-from; got != h.want && got != "::ffff:"+h.want {
			t.Errorf("%s arrived as %s, want %s", h.ns, got, h.want)
		}
	}
}

// symmetricNAT makes the lab's NAT map its clients to another address
// toward one destination, as a symmetric NAT does: it gives the server
// a second address and the NAT a second outside address, 198.18.2.101,
// which the NAT's clients leave from toward the server's second
// address; toward the rest, 198.18.1.1 included, they still leave from
// 198.18.2.100. It returns the server's second address and the NAT's.
func symmetricNAT(t *testing.T, l *netnstest.Lab) (server, mapped netip.Addr) {
	t.Helper()
	server, mapped = netip.MustParseAddr("198.18.1.3"), netip.MustParseAddr("198.18.2.101")
	l.MustRun(t, l.Server, "ip", "addr", "add", server.String()+"/24", "dev", "veth0")
	l.MustRun(t, l.NAT, "ip", "addr", "add", mapped.String()+"/24", "dev", "veth0")
	l.MustRun(t, l.NAT, "iptables", "-t", "nat", "-I", "POSTROUTING", "-o", "veth0", "-d", server.String(), "-j", "SNAT", "--to-source", mapped.String())
	return server, mapped
}
