package cli

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
)

// TestFirewallStatusAndRemove runs firewall status and remove in
// process on the fake firewall, in each state it can be in.
func TestFirewallStatusAndRemove(t *testing.T) {
	s := newFakeServer(t)
	cfg, err := config.Load(s.path)
	if err != nil {
		t.Fatal(err)
	}
	plan := daemon.PlanFor(cfg, s.fw) // a Fake has no Filter: the whole range is logged
	ssh := derive.Knock{Proto: derive.TCP, Port: 22}
	other := plan // another config's: one more protected service
	other.Protected = append([]derive.Knock{{Proto: derive.UDP, Port: 53}}, plan.Protected...)
	tests := []struct {
		name  string
		setup func()
		args  []string
		want  []string // lines of the output, in order
	}{
		{"not installed", func() {}, []string{"firewall", "status"},
			[]string{"Not installed: no OTPKNOCK chain (otpknock server installs it)."}},
		{"running, one grant", func() {
			s.fw.Setup(plan)
			s.fw.Grant(netip.MustParseAddr("198.18.0.2"), ssh, 30*time.Second)
			s.clock.Advance(10 * time.Second)
		}, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 8 IPv4 and 8 IPv6 rules, current; knock logging on.",
			"  -A OTPKNOCK -p tcp -m multiport --dports 22 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT -m comment --comment otpknock:" + plan.Digest(),
			"Sets otpknock4, otpknock6: 1 grants.",
			"SOURCE      SERVICE  LEFT",
			"198.18.0.2  tcp/22   20s",
		}},
		{"server stopped", func() { s.fw.Close(plan) }, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 6 IPv4 and 6 IPv6 rules, current; knock logging off: no server is reading knocks, protected ports stay closed.",
		}},
		{"installed from another config", func() { s.fw.Setup(other) }, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 10 IPv4 and 10 IPv6 rules, differs from the config (the server updates it at start or reload); knock logging on.",
		}},
		{"remove", func() {}, []string{"firewall", "remove"}, []string{
			"Removed the OTPKNOCK chain, its INPUT jump and the sets otpknock4 and otpknock6.",
		}},
		{"removed", func() {}, []string{"firewall", "status"},
			[]string{"Not installed: no OTPKNOCK chain (otpknock server installs it)."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			s.stdout.mu.Lock()
			s.stdout.b.Reset()
			s.stdout.mu.Unlock()
			if err := s.run(context.Background(), append(tt.args, "-c", s.path)...); err != nil {
				t.Fatal(err)
			}
			out := s.stdout.String()
			rest := out
			for _, line := range tt.want {
				i := strings.Index(rest, line+"\n")
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", line, out)
				}
				rest = rest[i+len(line):]
			}
		})
	}
	if got, want := s.fw.String(), "installed=false nflog=false setups=2"; got != want {
		t.Errorf("after remove: %q, want %q", got, want)
	}
}
