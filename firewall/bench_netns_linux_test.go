package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// BenchmarkGrant is one grant in a namespace: otpknock's, an ipset entry
// or an nftables set element (one transaction) with a timeout added over
// netlink, against knockd's and fwknop's, an
// iptables command run for the client (here with 1 and 10,000 rules of
// other clients already in place).
//
//	sudo go test ./firewall -run '^$' -bench 'Grant$'
func BenchmarkGrant(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables", "iptables-restore")
	svc := derive.Knock{Proto: derive.UDP, Port: 1194}
	b.Run("ipset", func(b *testing.B) {
		p := netnstest.NewPair(b)
		k := iptablesIn(b, p, testPlan())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := k.Grant(HostPrefix(other(i)), svc, 30*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nftables", func(b *testing.B) {
		netnstest.Require(b, "nft")
		p := netnstest.NewPair(b)
		n := nftIn(b, p, testPlan())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := n.Grant(HostPrefix(other(i)), svc, 30*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{1, 10000} {
		b.Run(fmt.Sprintf("iptables-exec/rules=%d", n), func(b *testing.B) {
			p := netnstest.NewPair(b)
			ruleGrants(b, p, n-1, svc)
			b.ResetTimer()
			p.Do(b, p.Server, func() { // exec from the namespace's thread, as a daemon there would
				for i := 0; i < b.N; i++ {
					out, err := exec.Command("iptables", "-I", "INPUT", "1", "-s", other(n+i).String(), "-p", "udp", "--dport", "1194", "-j", "ACCEPT").CombinedOutput()
					if err != nil {
						b.Fatalf("iptables -I: %v\n%s", err, out)
					}
				}
			})
		})
	}
}

// BenchmarkGrantedPacket is the per-packet cost of the firewall with 1
// and 10,000 concurrent grants: one op is a UDP round trip from a granted
// client to an echo service on udp/1194 in the server namespace. With
// otpknock's chain the grants are entries of a hash set (one lookup per
// packet); with a rule per client, the way knockd and fwknop grant, each
// packet walks the rules of the clients granted before it (the client's
// own rule comes last: the oldest grant).
//
//	sudo go test ./firewall -run '^$' -bench GrantedPacket
func BenchmarkGrantedPacket(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables", "iptables-restore")
	svc := derive.Knock{Proto: derive.UDP, Port: 1194}
	for _, mode := range []string{"ipset", "rules"} {
		for _, n := range []int{1, 10000} {
			b.Run(fmt.Sprintf("%s/grants=%d", mode, n), func(b *testing.B) {
				p := netnstest.NewPair(b)
				if mode == "ipset" {
					k := iptablesIn(b, p, testPlan())
					for i := range n - 1 {
						if err := k.Grant(HostPrefix(other(i)), svc, time.Hour); err != nil {
							b.Fatal(err)
						}
					}
					if err := k.Grant(HostPrefix(p.ClientV4), svc, time.Hour); err != nil {
						b.Fatal(err)
					}
				} else {
					ruleGrants(b, p, n-1, svc)
				}
				roundTrips(b, p, svc.Port)
			})
		}
	}
}

// other is the i-th address (i < 65536) of other granted clients, in
// 198.19.0.0/16.
func other(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}) }

// ruleGrants installs n rules for other clients, then the client's, then
// a drop of the rest, with one iptables-restore.
func ruleGrants(b *testing.B, p *netnstest.Pair, n int, svc derive.Knock) {
	var in strings.Builder
	in.WriteString("*filter\n")
	for i := range n {
		fmt.Fprintf(&in, "-A INPUT -s %v/32 -p udp --dport %d -j ACCEPT\n", other(i), svc.Port)
	}
	fmt.Fprintf(&in, "-A INPUT -s %v/32 -p udp --dport %d -j ACCEPT\n", p.ClientV4, svc.Port)
	fmt.Fprintf(&in, "-A INPUT -p udp --dport %d -j DROP\nCOMMIT\n", svc.Port)
	cmd := p.Cmd(p.Server, "iptables-restore", "--noflush")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("iptables-restore: %v\n%s", err, out)
	}
}

// roundTrips runs the benchmark loop: b.N echoes through the service.
func roundTrips(b *testing.B, p *netnstest.Pair, port uint16) {
	var srv, cli *net.UDPConn
	var err error
	p.Do(b, p.Server, func() {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ServerV4, port)))
	})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	p.Do(b, p.Client, func() {
		cli, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ServerV4, port)))
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	msg, buf := []byte("knock knock"), make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		cli.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := cli.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := cli.Read(buf); err != nil {
			b.Fatalf("echo through the firewall: %v", err)
		}
	}
}

// BenchmarkVerify is one check of an intact firewall, the daemon's
// periodic self-check: per family, the set, the chain's listing, the
// INPUT listing (iptables -S, a fork each), with and without a
// forwarded service. The daemon runs it every 2 s by default.
//
//	sudo go test ./firewall -run '^$' -bench Verify
func BenchmarkVerify(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables")
	for _, plan := range []struct {
		name string
		p    Plan
	}{{"input", testPlan()}, {"input+forward", forwardPlan()}} {
		b.Run(plan.name, func(b *testing.B) {
			p := netnstest.NewPair(b)
			k := iptablesIn(b, p, plan.p)
			b.ResetTimer()
			p.Do(b, p.Server, func() {
				for i := 0; i < b.N; i++ {
					if miss, err := k.Verify(plan.p); err != nil || miss != nil {
						b.Fatalf("Verify = %q, %v", miss, err)
					}
				}
			})
		})
	}
}
