package daemon

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// TestDaemonGrantPrefix: a user with grant_prefix has the prefix
// around the knocking address granted, the plan installs the prefix
// sets, the grant line and the metrics name the prefix; a user without
// keeps the address alone.
func TestDaemonGrantPrefix(t *testing.T) {
	for _, tt := range []struct {
		name      string
		gp        config.GrantPrefix
		src       string
		grants    string
		logPrefix string
		metric    string
	}{
		{"ipv4 /24", config.GrantPrefix{V4: 24, V6: 64}, "198.18.0.77",
			"grant 198.18.0.0/24 tcp/22 30s", "src=198.18.0.77 user=bob step=60000000 ports=tcp/22 prefix=198.18.0.0/24", `otpknock_prefix_grants_total{prefix="/24"} 1`},
		{"ipv6 /64", config.GrantPrefix{V4: 24, V6: 64}, "2001:2::1:2:3:4",
			"grant 2001:2::/64 tcp/22 30s", "prefix=2001:2::/64", `otpknock_prefix_grants_total{prefix="/64"} 1`},
		{"ipv6 only: ipv4 stays the address", config.GrantPrefix{V6: 56}, "198.18.0.77",
			"grant 198.18.0.77 tcp/22 30s", "src=198.18.0.77 user=bob step=60000000 ports=tcp/22 timeout=30s", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.yaml")
			if _, err := config.WriteInit(path, config.InitOptions{ServerID: "gw1", Host: "198.18.0.1", StateFile: filepath.Join(dir, "state.json")}); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.AddUser(path, config.NewUser{Name: "bob", Open: []string{"tcp/22"}, GrantPrefix: tt.gp})
			if err != nil {
				t.Fatal(err)
			}
			secret := []byte("bob's secret, 32 bytes long!!!!!")
			if err := cfg.WriteSecret("bob", secret); err != nil {
				t.Fatal(err)
			}
			if !FirewallPlan(cfg).Prefixes {
				t.Errorf("FirewallPlan of a config with grant_prefix: Prefixes false")
			}
			c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
			fw := &firewalltest.Fake{Clock: c}
			r := start(t, cfg, c, fw)
			seq, _ := derive.Sequence(secret, "gw1", cfg.Params, 60000000, netip.Addr{})
			r.knock(t, netip.MustParseAddr(tt.src), seq)
			if got, want := fw.String(), "installed=true nflog=true setups=1\n"+tt.grants; got != want {
				t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
			}
			metrics := r.scrape(t, "/metrics")
			if tt.metric != "" && !strings.Contains(metrics, tt.metric) {
				t.Errorf("metrics lack %q:\n%s", tt.metric, metrics)
			}
			if tt.metric == "" && strings.Contains(metrics, "otpknock_prefix_grants_total{") {
				t.Errorf("an address grant counted as a prefix grant:\n%s", metrics)
			}
			r.stop(t)
			if logs := r.log.String(); !strings.Contains(logs, tt.logPrefix) {
				t.Errorf("log lacks %q:\n%s", tt.logPrefix, logs)
			}
		})
	}
}

// TestFirewallPlanWithoutPrefixes: no user with grant_prefix, no
// prefix sets: the plan is as before prefix grants.
func TestFirewallPlanWithoutPrefixes(t *testing.T) {
	cfg, _ := setupConfig(t)
	if FirewallPlan(cfg).Prefixes {
		t.Errorf("FirewallPlan without grant_prefix: Prefixes true")
	}
}
