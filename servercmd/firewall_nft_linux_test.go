package servercmd

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

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
