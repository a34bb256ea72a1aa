package firewall

import (
	"strings"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestHostNow looks at a fresh namespace, then one with a table of its
// own, then one where legacy iptables has a table: auto follows.
func TestHostNow(t *testing.T) {
	netnstest.Require(t, "nft", "iptables-legacy", "iptables")
	p := netnstest.NewPair(t)
	choose := func() (string, string) {
		var h Host
		p.Do(t, p.Server, func() { h = HostNow() })
		return Choose(ModeAuto, h)
	}
	want := ModeIPTables
	if out := p.MustRun(t, p.Server, "iptables", "--version"); strings.Contains(out, "nf_tables") {
		want = ModeNFTables
	}
	if kind, why := choose(); kind != want {
		t.Errorf("fresh namespace: %s (%s), want %s", kind, why, want)
	}
	p.MustRun(t, p.Server, "nft", "add", "table", "inet", "firewalld")
	if kind, why := choose(); kind != ModeNFTables || !strings.Contains(why, "inet firewalld") {
		t.Errorf("with table inet firewalld: %s (%s)", kind, why)
	}
	p.MustRun(t, p.Server, "iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	if kind, why := choose(); kind != ModeIPTables || !strings.Contains(why, "legacy iptables tables are in use (filter)") {
		t.Errorf("with a legacy filter table: %s (%s)", kind, why)
	}
	n := nftIn(t, p, testPlan())
	if kind, why := choose(); kind != ModeNFTables || !strings.Contains(why, "table inet otpknock exists") {
		t.Errorf("with otpknock's table: %s (%s)", kind, why)
	}
	p.Do(t, p.Server, func() { n.Remove(testPlan()) })
}
