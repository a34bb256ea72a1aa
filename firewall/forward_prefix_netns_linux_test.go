package firewall_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestForwardPrefixNetns publishes a container's port the way Docker
// does, over IPv4 and IPv6 (DNAT of tcp/8080 on the server to port 80
// of a container namespace: the packets cross the forward path, never
// input), on both backends with a plan that forwards tcp/8080 and has
// Prefixes: a grant of the client's prefix opens the published port to
// another address of the prefix and not to one outside it.
func TestForwardPrefixNetns(t *testing.T) {
	for _, tt := range []struct {
		kind  string
		tools []string
	}{
		{firewall.ModeIPTables, []string{"iptables", "ip6tables", "ipset"}},
		{firewall.ModeNFTables, []string{"nft", "iptables", "ip6tables"}},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			netnstest.Require(t, tt.tools...)
			p := netnstest.NewPair(t)
			publish(t, p)
			near4, far4 := netip.MustParseAddr("198.18.0.77"), netip.MustParseAddr("198.18.0.200")
			near6, far6 := netip.MustParseAddr("2001:2::77"), netip.MustParseAddr("2001:2::1:2")
			// Deprecated (preferred_lft 0): the kernel never picks them
			// as a source; only the dials below bind to them.
			for _, a := range []netip.Addr{near4, far4, near6, far6} {
				p.MustRun(t, p.Client, "ip", "addr", "add", firewall.HostPrefix(a).String(), "dev", "veth0", "nodad", "preferred_lft", "0")
			}
			reaches := func(src netip.Addr) bool {
				dst := p.ServerV4
				if src.Is6() {
					dst = p.ServerV6
				}
				var err error
				p.Do(t, p.Client, func() {
					d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
					var c net.Conn
					if c, err = d.Dial("tcp", netip.AddrPortFrom(dst, 8080).String()); err == nil {
						c.Close()
					}
				})
				return err == nil
			}
			all := []netip.Addr{p.ClientV4, near4, far4, p.ClientV6, near6, far6}
			for _, src := range all {
				if !reaches(src) {
					t.Fatalf("control: %v does not reach the published port without otpknock", src)
				}
			}
			web := derive.Knock{Proto: derive.TCP, Port: 8080}
			plan := firewalltest.Plan()
			plan.Protected = append(plan.Protected, web)
			plan.Forward, plan.Prefixes = []derive.Knock{web}, true
			b := openIn(t, p, tt.kind, plan)
			defer p.Do(t, p.Server, func() { b.Remove(plan) })
			for _, src := range all {
				if reaches(src) {
					t.Errorf("%v reaches the published port before a grant", src)
				}
			}
			var err error
			for _, pfx := range []string{"198.18.0.0/25", "2001:2::/112"} {
				p.Do(t, p.Server, func() { err = b.Grant(netip.MustParsePrefix(pfx), web, 30*time.Second) })
				if err != nil {
					t.Fatalf("Grant(%s, %v): %v", pfx, web, err)
				}
			}
			for _, src := range []netip.Addr{p.ClientV4, near4, p.ClientV6, near6} {
				if !reaches(src) {
					t.Errorf("%v, in the granted prefix, does not reach the published port", src)
				}
			}
			for _, src := range []netip.Addr{far4, far6} {
				if reaches(src) {
					t.Errorf("%v, outside the granted prefix, reaches the published port", src)
				}
			}
			var missing []string
			p.Do(t, p.Server, func() { missing, err = b.Verify(plan) })
			if err != nil || len(missing) > 0 {
				t.Errorf("Verify after the grants: %q, %v", missing, err)
			}
		})
	}
}

// publish makes a container namespace beside the pair's server
// (198.18.9.2 and 2001:2:9::2, routed through the server) with an echo
// server on port 80, and DNATs tcp/8080 of the server to it in both
// families, as docker run -p 8080:80 does.
func publish(t *testing.T, p *netnstest.Pair) {
	t.Helper()
	go firewall.Echo(p.Listen(t, p.Container(t), "tcp", "[::]:80"))
}
