package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"golang.org/x/sys/unix"
)

func newFakeNFT() (*NFT, *fakeNFTConn, *clocktest.Fake) {
	clk := clocktest.NewFake(time.Unix(1_000_000, 0))
	f := &fakeNFTConn{Clock: clk}
	return nftOn(f), f, clk
}

// golden compares got with testdata/name (go test ./firewall -update
// rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func mustNoDiff(t *testing.T, n *NFT, p Plan) {
	t.Helper()
	d, err := n.Verify(p)
	if err != nil || len(d) != 0 {
		t.Fatalf("Verify: %v\n%s", err, strings.Join(d, "\n"))
	}
}

// TestNFTSetup installs the test plan on an empty ruleset and compares
// the ruleset with testdata/nft_setup.golden; a second Setup sends no
// transaction.
func TestNFTSetup(t *testing.T) {
	n, f, _ := newFakeNFT()
	p := testPlan()
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	golden(t, "nft_setup.golden", f.String())
	mustNoDiff(t, n, p)
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	if got := f.Transactions(); got != 1 {
		t.Errorf("%d transactions after two setups of one plan, want 1", got)
	}
}

// TestNFTGrant checks grants: one element per (address, protocol, port)
// and family, a repeat refreshes the timeout, expiry on the clock,
// Status lists them with their time left.
func TestNFTGrant(t *testing.T) {
	n, f, clk := newFakeNFT()
	p := testPlan()
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	c4, c6 := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:2::2")
	ssh, vpn := derive.Knock{Proto: derive.TCP, Port: 22}, derive.Knock{Proto: derive.UDP, Port: 1194}
	for _, g := range []struct {
		src netip.Addr
		svc derive.Knock
	}{{c4, ssh}, {netip.MustParseAddr("::ffff:198.18.0.2"), vpn}, {c6, ssh}} {
		if err := n.Grant(HostPrefix(g.src), g.svc, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(20 * time.Second)
	if err := n.Grant(HostPrefix(c4), ssh, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := n.Status(p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range st.Grants {
		got = append(got, fmt.Sprintf("%v %v %v", g.Src, g.Svc, g.Left))
	}
	want := []string{"198.18.0.2 tcp/22 30s", "198.18.0.2 udp/1194 10s", "2001:2::2 tcp/22 10s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	clk.Advance(11 * time.Second)
	if !strings.Contains(f.String(), "198.18.0.2 . tcp . 22 expires 19s") || strings.Contains(f.String(), "udp . 1194") {
		t.Errorf("after expiry:\n%s", f)
	}
	mustNoDiff(t, n, p)
}

// TestNFTReplace changes the plan: one transaction swaps the rules, the
// grant sets keep their grants, a prerouting chain comes and goes.
func TestNFTReplace(t *testing.T) {
	n, f, _ := newFakeNFT()
	p := testPlan()
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	if err := n.Grant(HostPrefix(netip.MustParseAddr("198.18.0.2")), derive.Knock{Proto: derive.TCP, Port: 22}, time.Minute); err != nil {
		t.Fatal(err)
	}
	q := p
	q.Protocols = derive.Protocols(derive.TCP)
	q.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	if p.NFTDigest() == q.NFTDigest() {
		t.Fatal("digest ignores the plan's change")
	}
	if d, _ := n.Verify(q); len(d) == 0 {
		t.Fatal("Verify of a changed plan found nothing")
	}
	if err := n.Setup(q); err != nil {
		t.Fatal(err)
	}
	golden(t, "nft_replace.golden", f.String())
	mustNoDiff(t, n, q)
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	mustNoDiff(t, n, p)
	if s := f.String(); strings.Contains(s, "chain prerouting") || !strings.Contains(s, "198.18.0.2 . tcp . 22") {
		t.Errorf("back to the first plan: prerouting chain left or grant lost:\n%s", s)
	}
	if got := f.Transactions(); got != 4 {
		t.Errorf("%d transactions, want 4 (setup, grant, two replacements)", got)
	}
}

// TestNFTCloseRemove: Close deletes the log rules only, Verify notices,
// Setup restores them; Remove deletes the table and runs again on a
// clean ruleset without a transaction.
func TestNFTCloseRemove(t *testing.T) {
	n, f, _ := newFakeNFT()
	p := testPlan()
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(p); err != nil {
		t.Fatal(err)
	}
	s := f.String()
	if strings.Contains(s, "log group") || strings.Count(s, " drop ") != 7 {
		t.Errorf("after Close, want no log rule and the 7 drops:\n%s", s)
	}
	d, err := n.Verify(p)
	if err != nil || len(d) == 0 || !strings.Contains(strings.Join(d, "\n"), "log group 4711 snaplen 384") {
		t.Errorf("Verify after Close: %v %q", err, d)
	}
	if err := n.Setup(p); err != nil {
		t.Fatal(err)
	}
	mustNoDiff(t, n, p)
	if err := n.Remove(p); err != nil {
		t.Fatal(err)
	}
	if s := f.String(); strings.Contains(s, "table") {
		t.Errorf("after Remove:\n%s", s)
	}
	before := f.Transactions()
	if err := n.Remove(p); err != nil || f.Transactions() != before {
		t.Errorf("Remove on a clean ruleset: %v, %d transactions, want %d", err, f.Transactions(), before)
	}
	if st, err := n.Status(p); err != nil || st.Installed {
		t.Errorf("Status after Remove: %+v, %v", st, err)
	}
}

// TestNFTVerifyHeals breaks the table the ways a reload or an operator
// does; Verify names each breakage and one Setup heals it.
func TestNFTVerifyHeals(t *testing.T) {
	tbl := nftTable()
	input := &nftables.Chain{Name: NFTInput, Table: tbl}
	tests := []struct {
		name  string
		brk   func(f *fakeNFTConn, rules []*nftables.Rule)
		wants string
	}{
		{"flush ruleset", func(f *fakeNFTConn, _ []*nftables.Rule) { f.DelTable(tbl) }, "table inet otpknock is missing"},
		{"flush chain", func(f *fakeNFTConn, _ []*nftables.Rule) { f.FlushChain(input) }, "chain input: rule 5 is missing: ct state established,related accept"},
		{"rule deleted", func(f *fakeNFTConn, rules []*nftables.Rule) { f.DelRule(rules[5]) },
			`chain input: rule 6 is "meta nfproto ipv6`},
		{"rule appended", func(f *fakeNFTConn, _ []*nftables.Rule) {
			f.AddRule(&nftables.Rule{Table: tbl, Chain: input, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}})
		}, "chain input: rule 15 is not planned: accept"},
		{"set replaced", func(f *fakeNFTConn, _ []*nftables.Rule) {
			f.FlushChain(input)
			f.DelSet(&nftables.Set{Table: tbl, Name: NFTSet6})
			f.AddSet(&nftables.Set{Table: tbl, Name: NFTSet6, KeyType: nftables.TypeIP6Addr}, nil)
		}, `set grant6 is "set grant6 { type ipv6_addr; }"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, f, _ := newFakeNFT()
			p := testPlan()
			if err := n.Setup(p); err != nil {
				t.Fatal(err)
			}
			want := f.String()
			rules, err := f.GetRules(tbl, input)
			if err != nil {
				t.Fatal(err)
			}
			tt.brk(f, rules)
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
			d, err := n.Verify(p)
			if err != nil || !strings.Contains(strings.Join(d, "\n"), tt.wants) {
				t.Fatalf("Verify = %v, %q; want a line with %q", err, d, tt.wants)
			}
			if err := n.Setup(p); err != nil {
				t.Fatal(err)
			}
			mustNoDiff(t, n, p)
			ignoreCount := func(s string) string { return s[:strings.LastIndex(s, "transactions")] }
			if diff := cmp.Diff(ignoreCount(want), ignoreCount(f.String())); diff != "" {
				t.Errorf("healed ruleset (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNFTFlushError checks that a failed transaction leaves the ruleset
// as it was and that Setup reports the error with its context.
func TestNFTFlushError(t *testing.T) {
	n, f, _ := newFakeNFT()
	f.FlushErr = fmt.Errorf("netlink receive: %w", unix.EPERM)
	err := n.Setup(testPlan())
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "installing table inet otpknock") {
		t.Errorf("Setup = %v, want a permission error with context", err)
	}
	if s := f.String(); s != "transactions 0\n" {
		t.Errorf("ruleset after a failed transaction:\n%s", s)
	}
}

// record runs run on a google/nftables connection that sends nothing and
// returns each message it would have sent: type, flags and body in hex.
func record(t *testing.T, run func(*nftables.Conn) error) string {
	t.Helper()
	var b strings.Builder
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		for _, m := range req {
			fmt.Fprintf(&b, "type=%#x flags=%#x\n%x\n", uint16(m.Header.Type), uint16(m.Header.Flags), m.Data)
		}
		return req, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := run(c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestNFTBytes checks the exact netlink messages of the install
// transaction and of a grant (testdata/nft_*.bytes.golden), as
// google/nftables hands them to the socket.
func TestNFTBytes(t *testing.T) {
	p := testPlan()
	p.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	golden(t, "nft_install.bytes.golden", record(t, func(c *nftables.Conn) error {
		if err := queueInstall(c, nftState{}, p); err != nil {
			return err
		}
		return c.Flush()
	}))
	golden(t, "nft_grant.bytes.golden", record(t, func(c *nftables.Conn) error {
		n := newNFTOn(c, false)
		if err := n.Grant(HostPrefix(netip.MustParseAddr("198.18.0.2")), derive.Knock{Proto: derive.TCP, Port: 22}, 30*time.Second); err != nil {
			return err
		}
		return n.Grant(HostPrefix(netip.MustParseAddr("2001:2::2")), derive.Knock{Proto: derive.UDP, Port: 1194}, 30*time.Second)
	}))
}
