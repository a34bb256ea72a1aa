//go:build linux

package attack

import (
	"net"
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
