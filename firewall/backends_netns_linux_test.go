package firewall_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// Each backend's own facts in a namespace, beside the contract both
// keep (TestContractNetns): how its rules read back in its own tools,
// what of a knock it filters, and a window of 3,000 elements in its
// kernel set.

// openIn opens the backend of kind in the pair's server namespace and
// installs plan.
func openIn(t *testing.T, p *netnstest.Pair, kind string, plan firewall.Plan) firewall.Backend {
	t.Helper()
	var b firewall.Backend
	var err error
	p.Do(t, p.Server, func() {
		if b, err = firewall.KindOf(kind).Open(); err == nil {
			err = b.Setup(plan)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probe runs the Kind's probe in the pair's server namespace and
// compares what it found with want.
func probe(t *testing.T, p *netnstest.Pair, kind string, want ...string) {
	t.Helper()
	var found []string
	var err error
	p.Do(t, p.Server, func() { found, err = firewall.KindOf(kind).Probe() })
	if err != nil || strings.Join(found, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s probe: %q, %v; want %q", kind, found, err, want)
	}
}

// arm arms elements of the backend in the server namespace.
func arm(t *testing.T, p *netnstest.Pair, b firewall.Backend, elems ...firewall.Element) {
	t.Helper()
	var err error
	p.Do(t, p.Server, func() { err = b.(firewall.Filter).Arm(elems) })
	if err != nil {
		t.Fatal(err)
	}
}

// window is 3,000 armed TCP ports from 40000, more than one message.
func window() []firewall.Element {
	var many []firewall.Element
	for port := uint16(40000); port < 43000; port++ {
		many = append(many, firewall.Element{Knock: derive.Knock{Proto: derive.TCP, Port: port}, TTL: 5 * time.Second})
	}
	return many
}

func filterPlan() firewall.Plan {
	p := firewalltest.Plan()
	p.Filter, p.Track = true, time.Second
	return p
}

// TestIPTablesNetns: the probe before and after Setup (two grant sets,
// four of the filter), one jump from INPUT per family after two setups,
// the filter's set matches, ICMP logged unfiltered (the filter's
// ipsets hold ports), and a window whole in its ipset.
func TestIPTablesNetns(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables", "ipset")
	p := netnstest.NewPair(t)
	plan := filterPlan()
	probe(t, p, firewall.ModeIPTables, "iptables and ip6tables found", "ipset over netlink: 0 sets, otpknock's installed: false")
	b := openIn(t, p, firewall.ModeIPTables, plan)
	probe(t, p, firewall.ModeIPTables, "iptables and ip6tables found", "ipset over netlink: 6 sets, otpknock's installed: true")
	p.Do(t, p.Server, func() {
		if err := b.Setup(plan); err != nil {
			t.Fatal(err)
		}
	})
	for _, ipt := range []string{"iptables", "ip6tables"} {
		if n := strings.Count(p.MustRun(t, p.Server, ipt, "-S", "INPUT"), "-j "+firewall.Chain); n != 1 {
			t.Errorf("%s: %d jumps from INPUT after two setups, want 1", ipt, n)
		}
		if n := strings.Count(p.MustRun(t, p.Server, ipt, "-S", firewall.Chain), "--match-set otpknock-"); n != 8 {
			t.Errorf("%s: %d filter set matches, want 8:\n%s", ipt, n, p.MustRun(t, p.Server, ipt, "-S", firewall.Chain))
		}
	}
	lab := &nflogLab{p: p, group: plan.Group}
	echo := derive.Knock{Proto: derive.ICMP, Port: 31000}
	for _, src := range []netip.Addr{p.ClientV4, p.ClientV6} {
		if !lab.logs(t, src, echo) {
			t.Errorf("an echo request from %v, nothing armed: not logged, want logged (ICMP is not filtered)", src)
		}
	}
	arm(t, p, b, window()...)
	out, err := p.Cmd(p.Server, "ipset", "list", firewall.FilterTCP).CombinedOutput()
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if port, _, ok := strings.Cut(l, " timeout "); ok && port >= "40000" && port <= "42999" {
			n++
		}
	}
	if err != nil || n != 3000 {
		t.Errorf("after arming 3,000 ports: %d of them in the set (%v)", n, err)
	}
}

// TestNFTNetns: the probe before and after Setup, the table as nft lists it (hook priorities, log group,
// set types and flags, the digest), an echo request filtered by its
// sequence number and tracking its source in the kernel, and a window
// whole in the armed set.
func TestNFTNetns(t *testing.T) {
	netnstest.Require(t, "nft")
	p := netnstest.NewPair(t)
	plan := filterPlan()
	probe(t, p, firewall.ModeNFTables, "nftables over netlink, 0 tables, otpknock's installed: false")
	b := openIn(t, p, firewall.ModeNFTables, plan)
	probe(t, p, firewall.ModeNFTables, "nftables over netlink, 1 table, otpknock's installed: true")
	listing := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", firewall.NFTTable)
	for _, want := range []string{"hook input priority filter - 10", "log group 4711 snaplen 384", "@grant4 accept", "@grant6 accept",
		"type ipv4_addr . inet_proto . inet_service", "flags timeout", `comment "otpknock:` + plan.NFTDigest() + `"`,
		"update @src4 { ip saddr timeout 1s }", "update @src6 { ip6 saddr timeout 1s }",
		"meta l4proto . tcp dport != @armed ip saddr @src4 log group 4711", "meta l4proto . icmp sequence @armed",
		"type inet_proto . inet_service", "flags dynamic,timeout"} {
		if !strings.Contains(listing, want) {
			t.Errorf("nft list lacks %q:\n%s", want, listing)
		}
	}
	lab := &nflogLab{p: p, group: plan.Group}
	echo := func(seq uint16) derive.Knock { return derive.Knock{Proto: derive.ICMP, Port: seq} }
	if lab.logs(t, p.ClientV4, echo(31000)) {
		t.Errorf("an echo request, nothing armed: logged")
	}
	arm(t, p, b, firewall.Element{Knock: echo(31000), TTL: 5 * time.Second})
	for _, src := range []netip.Addr{p.ClientV4, p.ClientV6} {
		if lab.logs(t, src, echo(31001)) {
			t.Errorf("an echo request from %v to no element: logged", src)
		}
		if !lab.logs(t, src, echo(31000)) {
			t.Errorf("an armed echo request from %v: not logged", src)
		}
		srcs := p.MustRun(t, p.Server, "nft", "list", "set", "inet", firewall.NFTTable, firewall.NFTSrc4) +
			p.MustRun(t, p.Server, "nft", "list", "set", "inet", firewall.NFTTable, firewall.NFTSrc6)
		if !strings.Contains(srcs, src.String()) {
			t.Errorf("the armed echo request did not track %v in the kernel:\n%s", src, srcs)
		}
		if !lab.logs(t, src, echo(31001)) {
			t.Errorf("the stray after an armed echo request from %v (its source tracked): not logged", src)
		}
	}
	arm(t, p, b, window()...)
	out := p.MustRun(t, p.Server, "nft", "list", "set", "inet", firewall.NFTTable, firewall.NFTArmed)
	if n := strings.Count(out, "tcp . 4"); n != 3000 {
		t.Errorf("after arming 3,000 ports: %d of them in the set", n)
	}
}
