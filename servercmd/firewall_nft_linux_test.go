package servercmd

import (
	"context"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// TestFirewallStatusNFT runs firewall status and remove on the
// nftables backend over its fake connection.
func TestFirewallStatusNFT(t *testing.T) {
	s := newFakeServer(t)
	conn := &firewall.NFTFake{Clock: s.clock}
	nft := firewall.NewNFTOn(conn)
	env := s.env()
	env.Firewall = func() (firewall.Backend, error) { return nft, nil }
	cfg, err := config.Load(s.path)
	if err != nil {
		t.Fatal(err)
	}
	plan := daemon.PlanFor(cfg, nft)
	tests := []struct {
		name  string
		setup func()
		args  []string
		want  []string
	}{
		{"not installed", func() {}, []string{"firewall", "status"},
			[]string{"Not installed: no table inet otpknock (otpknock server installs it)."}},
		{"running, one grant", func() {
			nft.Setup(plan)
			nft.Grant(netip.MustParseAddr("2001:2::2"), derive.Knock{Proto: derive.TCP, Port: 22}, 30*time.Second)
			s.clock.Advance(10 * time.Second)
		}, []string{"firewall", "status"}, []string{
			// 6 and, with the kernel pre-filter, 5 log and update rules
			// for each of tcp and udp.
			"Table inet otpknock: 16 rules for IPv4 and IPv6, current; knock logging on.",
			"  input ct state established,related accept comment \"otpknock:" + plan.NFTDigest() + "\"",
			"  input meta l4proto tcp th dport 22 drop comment \"otpknock:" + plan.NFTDigest() + "\"",
			"Sets grant4, grant6: 1 grants.",
			"SOURCE     SERVICE  LEFT",
			"2001:2::2  tcp/22   20s",
		}},
		{"server stopped", func() { nft.Close(plan) }, []string{"firewall", "status"}, []string{
			"Table inet otpknock: 6 rules for IPv4 and IPv6, current; knock logging off: no server is reading knocks, protected ports stay closed.",
		}},
		{"remove", func() {}, []string{"firewall", "remove"}, []string{
			"Removed table inet otpknock with its chains and sets (grants and the pre-filter's).",
		}},
		{"removed", func() {}, []string{"firewall", "status"},
			[]string{"Not installed: no table inet otpknock (otpknock server installs it)."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			s.stdout.mu.Lock()
			s.stdout.b.Reset()
			s.stdout.mu.Unlock()
			if err := Run(context.Background(), append(tt.args, "-c", s.path), env); err != nil {
				t.Fatal(err)
			}
			out, rest := s.stdout.String(), s.stdout.String()
			for _, line := range tt.want {
				i := strings.Index(rest, line+"\n")
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", line, out)
				}
				rest = rest[i+len(line):]
			}
		})
	}
	if got := conn.String(); got != "transactions 4\n" {
		t.Errorf("after remove: %q, want an empty ruleset after 4 transactions", got)
	}
}

// TestDryRunBackends: server --dry-run names the backend the config's
// firewall key picks, and prints what that backend would install.
func TestDryRunBackends(t *testing.T) {
	s := newFakeServer(t)
	for _, tt := range []struct{ mode, first, body string }{
		{"nftables", "# firewall backend: nftables (firewall: nftables in the config)", "\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n"},
		{"iptables", "# firewall backend: iptables (firewall: iptables in the config)", "iptables -t filter -I INPUT 1 -j OTPKNOCK"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			data, err := os.ReadFile(s.path)
			if err != nil {
				t.Fatal(err)
			}
			data = regexp.MustCompile(`(?m)^firewall: \w+$`).ReplaceAll(data, []byte("firewall: "+tt.mode))
			if err := os.WriteFile(s.path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s.stdout.mu.Lock()
			s.stdout.b.Reset()
			s.stdout.mu.Unlock()
			if err := s.run(context.Background(), "server", "--dry-run", "-c", s.path); err != nil {
				t.Fatal(err)
			}
			out := s.stdout.String()
			if !strings.HasPrefix(out, tt.first+"\n") || !strings.Contains(out, tt.body) {
				t.Errorf("--dry-run with firewall: %s:\n%s", tt.mode, out)
			}
		})
	}
}
