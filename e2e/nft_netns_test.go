package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestServerNFT runs the real server with the nftables backend in a
// namespace and knocks from another with the real client: the knock,
// through the kernel pre-filter (armed first knocks, sources tracked by
// the kernel), opens the service for the client's address only, in
// both families;
// grants expire in the kernel, also after kill -9; a stop keeps the
// ports closed; a restart changes nothing.
func TestServerNFT(t *testing.T) {
	w := newWorldWith(t, "nftables", "nft")
	p := w.p
	out := w.must(p.Server, "server", "--check", "-c", w.cfg)
	if !strings.Contains(out, "ok   firewall nftables (firewall: nftables in the config): nftables over netlink") || strings.Contains(out, "FAIL") {
		t.Errorf("server --check:\n%s", out)
	}
	w.startServer()
	w.waitLog(`msg=firewall backend="nftables (firewall: nftables in the config)"`)
	none := netip.Addr{}
	if w.open(none, p.ServerV4, 2222) || w.open(none, p.ServerV6, 2222) {
		t.Fatalf("protected port open before any knock")
	}
	_, grantedAt, err := w.knock("alice", 2222)
	if err != nil {
		t.Fatalf("alice's knock: %v", err)
	}
	w.waitLog("msg=grant src=198.18.0.2 user=alice")
	if !w.open(w.stranger, p.ServerV4, 3000) || !w.open(none, p.ServerV4, 2222) {
		t.Fatalf("controls failed: the checks below would prove nothing")
	}
	if w.open(w.stranger, p.ServerV4, 2222) {
		t.Errorf("alice's grant opened the port for another address")
	}
	if w.open(none, p.ServerV4, 2223) || w.open(none, p.ServerV6, 2222) {
		t.Errorf("alice's grant opened bob's port or the other family")
	}
	status := w.must(p.Server, "firewall", "status", "-c", w.cfg)
	if !strings.Contains(status, "Table inet otpknock:") || !strings.Contains(status, "current; knock logging on") ||
		!strings.Contains(status, "198.18.0.2  tcp/2222") {
		t.Errorf("firewall status:\n%s", status)
	}
	if closed := w.closesAfter(grantedAt, 2222); closed < 2*time.Second || closed > 4*time.Second {
		t.Errorf("grant closed %v after the door opened, want 3s +- 1s", closed)
	}
	if _, _, err := w.knock("alice6", 2222, "-6"); err != nil {
		t.Errorf("alice over IPv6: %v", err)
	}
	w.waitLog("msg=grant src=2001:2::2 user=alice")

	w.stopServer(syscall.SIGTERM)
	table := p.MustRun(t, p.Server, "nft", "list", "table", "inet", "otpknock")
	if strings.Contains(table, "log group") || strings.Count(table, "drop") != 6 {
		t.Errorf("after SIGTERM, the log rules must go and the 6 drops stay:\n%s", table)
	}
	if w.open(none, p.ServerV4, 2223) {
		t.Errorf("a protected port is open while the server is stopped")
	}
	w.startServer()
	after := p.MustRun(t, p.Server, "nft", "list", "table", "inet", "otpknock")
	// The knock range's logging with the kernel filter: per protocol the
	// two updates of the tracked sources, the armed log and two tracked
	// logs.
	if strings.Count(after, "otpknock:") != strings.Count(table, "otpknock:")+10 || !strings.Contains(after, "@armed update @src4") {
		t.Errorf("rules after restart:\n%s\nbefore (without the 10 filtered log rules):\n%s", after, table)
	}
	_, grantedAt, err = w.knock("dave", 2225)
	if err != nil {
		t.Fatalf("dave: %v", err)
	}
	w.stopServer(syscall.SIGKILL)
	if closed := w.closesAfter(grantedAt, 2225); closed < 2*time.Second || closed > 4*time.Second {
		t.Errorf("after kill -9 the grant closed %v after opening, want 3s +- 1s", closed)
	}
	if out := w.must(p.Server, "firewall", "remove", "-c", w.cfg); !strings.Contains(out, "Removed table inet otpknock") {
		t.Errorf("firewall remove: %s", out)
	}
	if out := p.MustRun(t, p.Server, "nft", "list", "ruleset"); strings.Contains(out, "otpknock") {
		t.Errorf("after firewall remove:\n%s", out)
	}
}

// TestCoexistUFW enables ufw in the server's namespace (default deny
// incoming; alice's 2222 and the unprotected 3000 allowed, bob's 2223
// not) and runs the server with each backend: ufw's allow does not open
// a protected port without a knock, a knock opens it for the client
// only, and ufw still serves what otpknock does not guard.
func TestCoexistUFW(t *testing.T) {
	for _, backend := range []string{"iptables", "nftables"} {
		t.Run(backend, func(t *testing.T) {
			w := newWorldWith(t, backend, "ufw", "nft", "iptables", "ip6tables")
			p := w.p
			host, _ := exec.Command("iptables", "-S").Output()
			p.EnableUFW(t, p.Server, "2222/tcp", "3000/tcp")
			if out, _ := exec.Command("iptables", "-S").Output(); string(out) != string(host) {
				t.Fatalf("ufw in the namespace changed the host's iptables:\n%s", out)
			}
			w.startServer()
			none := netip.Addr{}
			if !w.open(none, p.ServerV4, 3000) || !w.open(none, p.ServerV6, 3000) {
				t.Fatalf("control: ufw does not let 3000 through")
			}
			if w.open(none, p.ServerV4, 2222) || w.open(none, p.ServerV6, 2222) {
				t.Fatalf("2222 open without a knock: ufw's allow won over otpknock's drop")
			}
			if _, _, err := w.knock("alice", 2222); err != nil {
				t.Fatalf("alice's knock under ufw: %v", err)
			}
			if w.open(w.stranger, p.ServerV4, 2222) {
				t.Errorf("alice's grant opened 2222 for another address")
			}
			p.MustRun(t, p.Server, "ufw", "reload")
			time.Sleep(3500 * time.Millisecond) // the grant expires
			if w.open(none, p.ServerV4, 2222) {
				t.Errorf("2222 open after ufw reload and the grant's expiry")
			}
			if backend == "nftables" {
				// Accept in otpknock's chain does not stop ufw's drop: bob's
				// grant cannot open a port ufw does not allow.
				if _, _, err := w.knock("bob", 2223); err == nil {
					t.Errorf("bob's grant opened 2223, which ufw denies")
				}
				w.waitLog("msg=grant src=198.18.0.2 user=bob")
			}
		})
	}
}

// firewalldShape is what firewalld (nftables backend, zone public with
// ssh-like services) installs for INPUT: its own inet table, a base
// chain after otpknock's that accepts established sessions, loopback
// and its services, and rejects the rest.
const firewalldShape = `table inet firewalld {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state established,related accept
		ct status dnat accept
		iifname "lo" accept
		ct state invalid drop
		meta l4proto ipv6-icmp accept
		tcp dport { 2222, 3000 } accept
		reject with icmpx admin-prohibited
	}
}
`

// TestCoexistFirewalld installs firewalld's shape beside the server's
// nftables table: auto picks nftables; otpknock drops, firewalld allows:
// alice's port stays closed without a knock and opens with one; bob's
// port, which firewalld rejects, stays closed even with a grant.
func TestCoexistFirewalld(t *testing.T) {
	w := newWorldWith(t, "auto", "nft")
	p := w.p
	cmd := p.Cmd(p.Server, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(firewalldShape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f firewalld shape: %v\n%s", err, out)
	}
	w.startServer()
	w.waitLog(`backend="nftables (auto: the nftables ruleset has tables of its own (inet firewalld))"`)
	none := netip.Addr{}
	if !w.open(none, p.ServerV4, 3000) {
		t.Fatalf("control: firewalld's shape does not let 3000 through")
	}
	if w.open(none, p.ServerV4, 2222) || w.open(none, p.ServerV6, 2222) {
		t.Fatalf("2222 open without a knock: firewalld's accept won over otpknock's drop")
	}
	if _, _, err := w.knock("alice", 2222); err != nil {
		t.Fatalf("alice's knock beside firewalld: %v", err)
	}
	if w.open(w.stranger, p.ServerV4, 2222) {
		t.Errorf("alice's grant opened 2222 for another address")
	}
	if _, _, err := w.knock("bob", 2223); err == nil {
		t.Errorf("bob's grant opened 2223, which firewalld rejects")
	}
	w.waitLog("msg=grant src=198.18.0.2 user=bob")
}

// TestPacketNFTFilter runs pat's packet knocks through the nftables
// backend's kernel pre-filter: the server arms pat's elements of the
// window (in the armed set); pat's payload to another port of the
// range, from the client's untracked address, never reaches the daemon
// (no packet counted); the payload to the element opens the service
// and the kernel tracks the client's address.
func TestPacketNFTFilter(t *testing.T) {
	w := newPacketWorld(t, "[tcp, udp]")
	p := w.p
	w.waitLog(`backend="nftables`)
	w.controls()
	step := w.step()
	k := w.element(step)
	armed := p.MustRun(t, p.Server, "nft", "list", "set", "inet", "otpknock", "armed")
	if !strings.Contains(armed, fmt.Sprintf("udp . %d ", k.Port)) {
		t.Fatalf("pat's element %v is not armed:\n%s", k, armed)
	}
	stray := k
	for strings.Contains(armed, fmt.Sprintf("udp . %d ", stray.Port)) {
		stray.Port = w.params.PortMin + (stray.Port-w.params.PortMin+1)%(w.params.PortMax-w.params.PortMin+1)
	}
	payload := w.seal(step, derive.Claim{Addrs: []netip.Addr{p.ClientV4}})
	w.send(netip.Addr{}, p.ServerV4, stray, payload)
	time.Sleep(300 * time.Millisecond)
	if n := w.metrics()[`otpknock_packets_total{proto="udp"}`]; n != 0 || w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Fatalf("a packet to an unarmed port reached the daemon (%v packets) or opened the port", n)
	}
	w.send(netip.Addr{}, p.ServerV4, k, payload)
	w.waitMetric(grants, 1)
	if !w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Errorf("pat's packet did not open tcp/%d", patPort)
	}
	if n := w.metrics()[`otpknock_packets_total{proto="udp"}`]; n != 1 {
		t.Errorf("%v udp packets reached the daemon, want pat's 1", n)
	}
	if src := p.MustRun(t, p.Server, "nft", "list", "set", "inet", "otpknock", "src4"); !strings.Contains(src, p.ClientV4.String()) {
		t.Errorf("the element's packet did not track the client in the kernel:\n%s", src)
	}
}
