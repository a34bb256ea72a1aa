package firewall

import (
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestNFTFilter installs a filtering plan with the nftables backend in a
// server namespace and counts the NFLOG messages the listener reads for
// knocks from a client namespace, over IPv4 and IPv6: a knock to a port
// in the range that is no armed element, from an untracked source, logs
// nothing (ICMP echo requests too: the armed set holds their sequence
// numbers); an armed element logs once and tracks its source in the
// kernel (the rule's update, seen in the source set) for the plan's
// Track, so the stray right after it logs too; a source tracked by
// Track logs its strays once each; elements and sources expire on the
// kernel's clock; Verify finds the table as planned (the kernel's
// rules read back as written) and a second Setup changes nothing;
// 3,000 elements arm in one transaction; an armed
// echo request (by its sequence number) logs and tracks like a port.
func TestNFTFilter(t *testing.T) {
	netnstest.Require(t, "nft")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Filter, plan.Track = true, time.Second
	k := nftIn(t, p, plan)
	listing := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", NFTTable)
	var diff []string
	var err error
	p.Do(t, p.Server, func() {
		if err = k.Setup(plan); err == nil {
			diff, err = k.Verify(plan)
		}
	})
	if err != nil || len(diff) != 0 {
		t.Fatalf("Setup again and Verify: %v\n%s", err, strings.Join(diff, "\n"))
	}
	if again := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", NFTTable); again != listing {
		t.Errorf("a second Setup changed the table:\n%s\nbefore:\n%s", again, listing)
	}
	for _, want := range []string{"update @src4 { ip saddr timeout 1s }", "update @src6 { ip6 saddr timeout 1s }",
		"meta l4proto . tcp dport != @armed ip saddr @src4 log group 4711", "meta l4proto . icmp sequence @armed",
		"type inet_proto . inet_service", "flags dynamic,timeout"} {
		if !strings.Contains(listing, want) {
			t.Errorf("nft list lacks %q:\n%s", want, listing)
		}
	}
	l := newFilterLab(t, p, plan.Group)
	tcp, udp, icmp := tcpKnock, udpKnock, echoKnock(31000)

	l.check("nothing armed, nothing tracked", l.send(tcp(30000), udp(30001), icmp), nil)
	l.in(func() error {
		return k.Arm([]Element{{tcp(30000), 3 * time.Second}, {udp(30001), 3 * time.Second}, {icmp, time.Second}})
	})
	l.check("a stray before any element", l.send(tcp(30002), udp(30003), echoKnock(31001)), nil)
	l.check("an element tracks its source in the kernel", l.send(tcp(30000), tcp(30002)), l.both(tcp(30000), tcp(30002)))
	srcs := p.MustRun(t, p.Server, "nft", "list", "set", "inet", NFTTable, NFTSrc4) + p.MustRun(t, p.Server, "nft", "list", "set", "inet", NFTTable, NFTSrc6)
	if !strings.Contains(srcs, p.ClientV4.String()) || !strings.Contains(srcs, p.ClientV6.String()) {
		t.Errorf("the element's packets did not track their sources in the kernel:\n%s", srcs)
	}
	time.Sleep(1500 * time.Millisecond) // the plan's Track: 1 s
	l.check("the kernel's tracking and the ICMP element expired", l.send(udp(30003), icmp), nil)
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
	time.Sleep(1500 * time.Millisecond) // the batch's tracking expires
	l.in(func() error { return k.Arm([]Element{{echoKnock(31000), 5 * time.Second}}) })
	l.check("an echo request to no element", l.send(echoKnock(31001)), nil)
	l.check("an armed echo request tracks its source", l.send(echoKnock(31000), echoKnock(31001)), l.both(echoKnock(31000), echoKnock(31001)))
	out := p.MustRun(t, p.Server, "nft", "list", "set", "inet", NFTTable, NFTArmed)
	if n := strings.Count(out, "tcp . 4"); n != 3000 {
		t.Errorf("after arming 3,000 ports: %d of them in the set", n)
	}
	l.in(func() error { return k.Remove(plan) })
	if out := p.MustRun(t, p.Server, "nft", "list", "ruleset"); strings.Contains(out, NFTTable) {
		t.Errorf("table left after Remove:\n%s", out)
	}
}
