package firewall

import (
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestKernelFilter installs a filtering plan in a server namespace and
// counts the NFLOG messages the listener reads for knocks from a client
// namespace, over IPv4 and IPv6: a knock to a port in the range that is
// no armed element, from an untracked source, logs nothing; an armed
// element logs once and tracks its source in the kernel for the plan's
// Track, so the stray right after it logs too; a source tracked by
// Track logs its strays once each; elements and sources expire on the
// kernel's clock; ICMP echo requests are always logged.
func TestKernelFilter(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Filter, plan.Track = true, time.Second
	k := iptablesIn(t, p, plan)
	for _, ipt := range []string{"iptables", "ip6tables"} {
		if n := strings.Count(p.MustRun(t, p.Server, ipt, "-S", Chain), "--match-set otpknock-"); n != 8 {
			t.Errorf("%s: %d filter set matches, want 8:\n%s", ipt, n, p.MustRun(t, p.Server, ipt, "-S", Chain))
		}
	}
	l := newFilterLab(t, p, plan.Group)
	tcp, udp, icmp := tcpKnock, udpKnock, echoKnock(31000)

	l.check("nothing armed, nothing tracked", l.send(tcp(30000), udp(30001), icmp), l.both(icmp))
	l.in(func() error {
		return k.Arm([]Element{{tcp(30000), 3 * time.Second}, {udp(30001), 3 * time.Second}, {icmp, time.Second}})
	})
	l.check("a stray before any element", l.send(tcp(30002), udp(30003)), nil)
	l.check("an element tracks its source in the kernel", l.send(tcp(30000), tcp(30002)), l.both(tcp(30000), tcp(30002)))
	time.Sleep(1500 * time.Millisecond) // the plan's Track: 1 s
	l.check("the kernel's tracking expired", l.send(udp(30003)), nil)
	l.in(func() error {
		return k.Track([]Source{{p.ClientV4, 2 * time.Second}, {p.ClientV6, 2 * time.Second}})
	})
	l.check("tracked source", l.send(tcp(30002), udp(30003), tcp(19999)), l.both(tcp(30002), udp(30003)))
	time.Sleep(2500 * time.Millisecond)
	l.check("elements and sources expired", l.send(tcp(30000), udp(30001), tcp(30002)), nil)

	// A batch beyond one message: every port of a 3,000-port span.
	var many []Element
	for port := uint16(40000); port < 43000; port++ {
		many = append(many, Element{tcp(port), 5 * time.Second})
	}
	l.in(func() error { return k.Arm(many) })
	l.check("batched elements", l.send(tcp(43000), tcp(40000), tcp(42999)), l.both(tcp(40000), tcp(42999)))
	out, err := p.Cmd(p.Server, "ipset", "list", FilterTCP).CombinedOutput()
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if port, _, ok := strings.Cut(l, " timeout "); ok && port >= "40000" && port <= "42999" {
			n++
		}
	}
	if err != nil || n != 3000 {
		t.Errorf("after arming 3,000 ports: %d of them in the set (%v)", n, err)
	}
	l.in(func() error { return k.Remove(plan) })
	if out, _ := p.Cmd(p.Server, "ipset", "list", "-n").CombinedOutput(); strings.Contains(string(out), "otpknock") {
		t.Errorf("sets left after Remove: %s", out)
	}
}
