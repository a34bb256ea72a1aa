package netnstest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
)

// Lab is the adversarial topology:
//
//	server 198.18.1.1 ── router ── LAN 198.18.2.0/24 (a bridge in the router)
//	                                 ├─ client   198.18.2.2
//	                                 ├─ attacker 198.18.2.66
//	                                 └─ nat      198.18.2.100 ── 198.19.0.0/24
//	                                                               ├─ natA 198.19.0.2
//	                                                               └─ natB 198.19.0.3
//
// The router forwards between the server and the LAN, so traffic there
// can be captured, dropped, delayed, reordered and duplicated (tc netem
// on "toserver", its link to the server). The NAT masquerades its
// clients behind 198.18.2.100.
type Lab struct {
	Pair                              // Server, Client (and their addresses)
	Router, Attacker, NAT, NatA, NatB string
	AttackerV4, NatV4                 netip.Addr
}

// NewLab builds the topology; t.Cleanup removes it.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	n := seq.Add(1)
	name := func(s string) string { return fmt.Sprintf("otpk-%d-%d-%s", os.Getpid(), n, s) }
	l := &Lab{Router: name("rtr"), Attacker: name("att"), NAT: name("nat"), NatA: name("na"), NatB: name("nb"),
		AttackerV4: netip.MustParseAddr("198.18.2.66"), NatV4: netip.MustParseAddr("198.18.2.100")}
	l.Server, l.Client = name("srv"), name("cli")
	l.ServerV4, l.ClientV4 = netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.2.2")
	l.ServerV6, l.ClientV6 = netip.MustParseAddr("2001:2:1::1"), netip.MustParseAddr("2001:2:2::2")
	for _, ns := range []string{l.Server, l.Router, l.Client, l.Attacker, l.NAT, l.NatA, l.NatB} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		l.MustRun(t, ns, "ip", "link", "set", "lo", "up")
		// No duplicate address detection: link-local addresses would stay
		// tentative for a while and delay neighbour discovery.
		l.MustRun(t, ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	link := func(a, an, b, bn string) {
		run(t, "ip", "link", "add", an, "netns", a, "type", "veth", "peer", "name", bn, "netns", b)
		l.MustRun(t, a, "ip", "link", "set", an, "up")
		l.MustRun(t, b, "ip", "link", "set", bn, "up")
	}
	addr := func(ns, dev string, addrs ...string) {
		for _, a := range addrs {
			args := []string{"ip", "addr", "add", a, "dev", dev}
			if len(a) > 0 && a[0] == '2' && a[4] == ':' {
				args = append(args, "nodad")
			}
			l.MustRun(t, ns, args...)
		}
	}
	link(l.Server, "veth0", l.Router, "toserver")
	addr(l.Server, "veth0", "198.18.1.1/24", "2001:2:1::1/64")
	addr(l.Router, "toserver", "198.18.1.254/24", "2001:2:1::fe/64")
	l.MustRun(t, l.Server, "ip", "route", "add", "default", "via", "198.18.1.254")
	l.MustRun(t, l.Server, "ip", "-6", "route", "add", "default", "via", "2001:2:1::fe")
	l.MustRun(t, l.Router, "ip", "link", "add", "lan", "type", "bridge", "mcast_snooping", "0")
	l.MustRun(t, l.Router, "ip", "link", "set", "lan", "up")
	addr(l.Router, "lan", "198.18.2.254/24", "2001:2:2::fe/64")
	for i, h := range []struct{ ns, v4, v6 string }{{l.Client, "198.18.2.2/24", "2001:2:2::2/64"}, {l.Attacker, "198.18.2.66/24", "2001:2:2::66/64"}, {l.NAT, "198.18.2.100/24", ""}} {
		port := fmt.Sprintf("lan%d", i)
		link(h.ns, "veth0", l.Router, port)
		l.MustRun(t, l.Router, "ip", "link", "set", port, "master", "lan")
		addr(h.ns, "veth0", h.v4)
		l.MustRun(t, h.ns, "ip", "route", "add", "default", "via", "198.18.2.254")
		if h.v6 != "" {
			addr(h.ns, "veth0", h.v6)
			l.MustRun(t, h.ns, "ip", "-6", "route", "add", "default", "via", "2001:2:2::fe")
		}
	}
	l.MustRun(t, l.Router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	// The NAT's inside: a bridge with two clients, masqueraded outside.
	l.MustRun(t, l.NAT, "ip", "link", "add", "inside", "type", "bridge", "mcast_snooping", "0")
	l.MustRun(t, l.NAT, "ip", "link", "set", "inside", "up")
	addr(l.NAT, "inside", "198.19.0.1/24")
	for i, h := range []struct{ ns, v4 string }{{l.NatA, "198.19.0.2/24"}, {l.NatB, "198.19.0.3/24"}} {
		port := fmt.Sprintf("in%d", i)
		link(h.ns, "veth0", l.NAT, port)
		l.MustRun(t, l.NAT, "ip", "link", "set", port, "master", "inside")
		addr(h.ns, "veth0", h.v4)
		l.MustRun(t, h.ns, "ip", "route", "add", "default", "via", "198.19.0.1")
	}
	l.MustRun(t, l.NAT, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	l.MustRun(t, l.NAT, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "veth0", "-j", "MASQUERADE")
	// The attacker may forge source addresses.
	l.MustRun(t, l.Router, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.lan.rp_filter=0")
	return l
}
