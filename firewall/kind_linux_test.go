package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestKindStatusText renders the nftables backend's status over its fake
// connection through a server's life: not installed, running with a
// grant, stopped (Close), removed; each state's lines in order.
func TestKindStatusText(t *testing.T) {
	n, conn, clk := newFakeNFT()
	p := testPlan()
	p.Filter, p.Track = true, 10*time.Second
	kind := n.Kind()
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"not installed", func() error { return nil },
			[]string{"Not installed: no table inet otpknock (otpknockd server installs it)."}},
		{"locked", func() error { return n.Setup(p.Lock()) }, []string{
			"Table inet otpknock: 6 rules for IPv4 and IPv6, " + locked + "; knock logging off: no server is reading knocks, protected ports stay closed.",
		}},
		{"running, one grant", func() error {
			if err := n.Setup(p); err != nil {
				return err
			}
			clk.Advance(10 * time.Second)
			return n.Grant(HostPrefix(netip.MustParseAddr("2001:2::2")), derive.Knock{Proto: derive.TCP, Port: 22}, 30*time.Second)
		}, []string{
			// the 10 of the lock and the pre-filter's log and update
			// rules.
			"Table inet otpknock: 26 rules for IPv4 and IPv6, current; knock logging on.",
			"  input ct state established,related accept comment \"otpknock:" + p.NFTDigest() + "\"",
			"  input meta l4proto tcp th dport 22 drop comment \"otpknock:" + p.NFTDigest() + "\"",
			"Sets grant4, grant6: 1 grant.",
		}},
		{"another config", func() error { return nil }, []string{"differs from the config"}},
		{"server stopped", func() error { return n.Close(p) }, []string{
			"Table inet otpknock: 10 rules for IPv4 and IPv6, current; knock logging off: no server is reading knocks, protected ports stay closed.",
		}},
		{"removed", func() error { return n.Remove(p) },
			[]string{"Not installed: no table inet otpknock (otpknockd server installs it)."}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			st, err := n.Status(p)
			if err != nil {
				t.Fatal(err)
			}
			q := p
			if s.name == "another config" {
				q.PortMin++
			}
			out := kind.StatusText(st, q)
			rest := out
			for _, line := range s.want {
				i := strings.Index(rest, line)
				if i < 0 {
					t.Fatalf("status lacks %q (in order):\n%s", line, out)
				}
				rest = rest[i+len(line):]
			}
		})
	}
	if got := conn.String(); got != "transactions 5\n" {
		t.Errorf("after remove: %q, want an empty ruleset after 4 transactions", got)
	}
}

// TestKinds: the table names each backend once, KindOf finds each by
// its config value, and a backend's Kind is its row.
func TestKinds(t *testing.T) {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.Name())
		if KindOf(k.Name()) != k {
			t.Errorf("KindOf(%q) = %v", k.Name(), KindOf(k.Name()))
		}
	}
	if strings.Join(names, ",") != ModeNFTables+","+ModeIPTables {
		t.Errorf("Kinds() names %v", names)
	}
	if KindOf(ModeAuto) != nil {
		t.Errorf("KindOf(auto) = %v, want nil: auto is no backend", KindOf(ModeAuto))
	}
	n, _, _ := newFakeNFT()
	if n.Kind() != KindOf(ModeNFTables) || newFakeIPTables().Kind() != KindOf(ModeIPTables) {
		t.Errorf("backends' kinds: nft %v, iptables %v", n.Kind(), newFakeIPTables().Kind())
	}
	for _, tt := range []struct{ kind, where, removed string }{
		{ModeNFTables, "table inet otpknock", "Removed table inet otpknock with its chains and sets (grants and the pre-filter's)."},
		{ModeIPTables, "chain OTPKNOCK", "Removed the OTPKNOCK and OTPKNOCK-FWD chains, their jumps and otpknock's sets (grants, prefixes, forwarded services and the pre-filter's)."},
	} {
		k := KindOf(tt.kind)
		if k.Where() != tt.where || k.Removed() != tt.removed {
			t.Errorf("%s: Where %q, Removed %q; want %q, %q", tt.kind, k.Where(), k.Removed(), tt.where, tt.removed)
		}
	}
}

// TestKindIPTablesStatusText renders the iptables backend's status over
// its fake seams: not installed, running, stopped, with a forwarded
// service's chain.
func TestKindIPTablesStatusText(t *testing.T) {
	k := newFakeIPTables()
	p := testPlan()
	kind := KindOf(ModeIPTables)
	text := func() string {
		st, err := k.Status(p)
		if err != nil {
			t.Fatal(err)
		}
		return kind.StatusText(st, p)
	}
	if got := text(); got != "Not installed: no OTPKNOCK chain (otpknockd server installs it).\n" {
		t.Errorf("before Setup:\n%s", got)
	}
	p.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	if err := k.Setup(p); err != nil {
		t.Fatal(err)
	}
	n := len(p.Rules(false))
	for _, tt := range []struct {
		name string
		do   func() error
		want []string
	}{
		{"running", func() error { return nil }, []string{
			fmt.Sprintf("Chain OTPKNOCK: %d IPv4 and %d IPv6 rules, current; knock logging on.\n", n, n),
			"Chain OTPKNOCK-FWD (services forwarded to containers): 4 IPv4 and 4 IPv6 rules.\n",
			"Sets of the forwarded services: otpknock4-tcp-8080, otpknock6-tcp-8080.\n",
			"Sets otpknock4, otpknock6: 0 grants.\n"}},
		{"stopped", func() error { return k.Close(p) }, []string{", current; knock logging off: no server is reading knocks, protected ports stay closed.\n"}},
	} {
		if err := tt.do(); err != nil {
			t.Fatal(err)
		}
		got, rest := text(), text()
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("%s: status lacks %q (in order):\n%s", tt.name, w, got)
			}
			rest = rest[i+len(w):]
		}
	}
}

// TestKindIPTablesStatusTextPrefixes: with Plan.Prefixes the status
// names the prefix sets beside the address sets, the forwarded
// services' too, and lists a prefix grant.
func TestKindIPTablesStatusTextPrefixes(t *testing.T) {
	k := newFakeIPTables()
	p := testPlan()
	p.Prefixes = true
	p.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	if err := k.Setup(p); err != nil {
		t.Fatal(err)
	}
	if err := k.Grant(netip.MustParsePrefix("2001:2::/64"), p.Forward[0], 30*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := k.Status(p)
	if err != nil {
		t.Fatal(err)
	}
	got := KindOf(ModeIPTables).StatusText(st, p)
	rest := got
	for _, w := range []string{
		"Chain OTPKNOCK-FWD (services forwarded to containers): 5 IPv4 and 5 IPv6 rules.\n",
		"otpknocknet4-tcp-8080 src -j ACCEPT",
		"Sets of the forwarded services: otpknock4-tcp-8080, otpknocknet4-tcp-8080, otpknock6-tcp-8080, otpknocknet6-tcp-8080.\n",
		"Sets otpknock4, otpknock6, otpknocknet4, otpknocknet6: 1 grant.\n",
	} {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("status lacks %q (in order):\n%s", w, got)
		}
		rest = rest[i+len(w):]
	}
	if len(st.Grants) != 1 || st.Grants[0].Source() != "2001:2::/64" {
		t.Errorf("Status grants %+v, want the /64", st.Grants)
	}
}

// TestKindRender: each Kind renders a plan as its own commands.
func TestKindRender(t *testing.T) {
	p := testPlan()
	for mode, want := range map[string]string{ModeIPTables: p.Render(), ModeNFTables: p.RenderNFT()} {
		kind, why := Pick(mode, Host{})
		if kind.Name() != mode || why != "firewall: "+mode+" in the config" || kind.Render(p) != want {
			t.Errorf("Pick(%q) = %v, %q; Render differs from the plan's: %v", mode, kind.Name(), why, kind.Render(p) != want)
		}
	}
	if !strings.Contains(p.RenderNFT(), "table inet otpknock {") || !strings.Contains(p.Render(), "iptables -t filter -I INPUT 1 -j OTPKNOCK") {
		t.Errorf("renderings lack their table or jump:\n%s\n%s", p.RenderNFT(), p.Render())
	}
}
