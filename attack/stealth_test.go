//go:build linux

package attack

import (
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestStealth captures everything the server sends while its protected
// port and its knock range are probed, scanned and half-knocked: nothing
// may leave but neighbour discovery and multicast membership reports.
// nmap sees the same before and after a partial knock. (Ports outside
// otpknock's care follow the host's own firewall.)
func TestStealth(t *testing.T) {
	require(t, "nmap", "tcpdump")
	// icmp knocks, and icmp_echo: drop, the choice of an admin who wants
	// the host silent: every echo request is otpknock's to drop (with the
	// default, host, echo requests outside the knock range are the host's
	// ordinary traffic and answered as its own firewall says).
	a := newArena(t, 3, func(c string) string {
		c = strings.Replace(c, "protocols: [tcp, udp]", "protocols: [tcp, udp, icmp]", 1)
		return strings.Replace(c, "\nicmp_echo: host\n", "\nicmp_echo: drop\n", 1)
	})
	l := a.l
	nmap := func() string {
		out, err := exec.Command("ip", "netns", "exec", l.Attacker, "nmap", "-n", "-Pn", "-T5", "--max-retries", "0", "-sS", "-p", "2222,20000-20100,45000-45100", "198.18.1.1").CombinedOutput()
		if err != nil {
			t.Fatalf("nmap: %v\n%s", err, out)
		}
		// Keep the port table, not the timings.
		return strings.Join(regexp.MustCompile(`(?m)^(Not shown|All \d+|PORT|\d+/).*$`).FindAllString(string(out), -1), "\n")
	}
	capture := l.StartCapture(t, l.Server, "not arp and not (icmp6 and (ip6[40] >= 133 and ip6[40] <= 136)) and not dst net ff00::/8", "out")
	before := nmap()
	r := openRaw(t, l, l.Attacker)
	ks := a.seqOf(a.users[0], a.step(), netip.Addr{})
	knockAll(t, r, l.AttackerV4, l.ServerV4, ks[:2]) // half a sequence
	for _, port := range []string{"2222", "30000", "59999"} {
		l.Do(t, l.Attacker, func() { net.DialTimeout("tcp", "198.18.1.1:"+port, 300*time.Millisecond) })
	}
	r.send(l.AttackerV4, l.ServerV4, derive.Knock{Proto: derive.ICMP, Port: 7})     // a plain ping
	r.send(l.AttackerV4, l.ServerV4, derive.Knock{Proto: derive.ICMP, Port: 30000}) // an echo in the knock range
	after := nmap()
	lines := capture.Stop(500 * time.Millisecond)
	figure(t, "stealth: server egress during scans, probes and a partial knock", "%d packets sent by the server", len(lines))
	if len(lines) != 0 {
		t.Errorf("the server answered:\n%s", strings.Join(lines, "\n"))
	}
	if before != after || !strings.Contains(before, "filtered") {
		t.Errorf("nmap differs after a partial knock:\n%s\n---\n%s", before, after)
	}
}
