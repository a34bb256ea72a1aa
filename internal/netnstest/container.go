package netnstest

import (
	"os/exec"
	"testing"
)

// Container makes a container namespace beside the pair's server
// (198.18.9.2 and 2001:2:9::2 on its veth0, the server's end toctr at
// 198.18.9.1 and 2001:2:9::1, routed through the server) and DNATs
// tcp/8080 of the server to the container's port 80 in both families,
// as docker run -p 8080:80 does. It returns the namespace's name; the
// namespace goes when the test ends. The caller listens on port 80 in
// it.
func (p *Pair) Container(t testing.TB) string {
	t.Helper()
	ctr := p.Server + "-ctr"
	if out, err := exec.Command("ip", "netns", "add", ctr).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ctr, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ctr).Run() })
	if out, err := exec.Command("ip", "link", "add", "toctr", "netns", p.Server, "type", "veth", "peer", "name", "veth0", "netns", ctr).CombinedOutput(); err != nil {
		t.Fatalf("ip link add toctr: %v\n%s", err, out)
	}
	// No DAD on the container's link: a tentative link-local address
	// holds the first IPv6 connection back for 2 s. lo up: Go probes
	// IPv6 support once per process on [::1], and a first probe in the
	// container must not turn later listeners on [::] into IPv4 ones.
	for _, c := range [][]string{
		{ctr, "sysctl", "-q", "-w", "net.ipv6.conf.veth0.accept_dad=0"},
		{p.Server, "sysctl", "-q", "-w", "net.ipv6.conf.toctr.accept_dad=0"},
		{ctr, "ip", "link", "set", "lo", "up"},
		{ctr, "ip", "addr", "add", "198.18.9.2/24", "dev", "veth0"},
		{ctr, "ip", "addr", "add", "2001:2:9::2/64", "dev", "veth0", "nodad"},
		{ctr, "ip", "link", "set", "veth0", "up"},
		{ctr, "ip", "route", "add", "default", "via", "198.18.9.1"},
		{ctr, "ip", "-6", "route", "add", "default", "via", "2001:2:9::1"},
		{p.Server, "ip", "addr", "add", "198.18.9.1/24", "dev", "toctr"},
		{p.Server, "ip", "addr", "add", "2001:2:9::1/64", "dev", "toctr", "nodad"},
		{p.Server, "ip", "link", "set", "toctr", "up"},
		{p.Server, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
		{p.Server, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"},
		{p.Server, "iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "198.18.9.2:80"},
		{p.Server, "ip6tables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "[2001:2:9::2]:80"},
	} {
		p.MustRun(t, c[0], c[1:]...)
	}
	return ctr
}
