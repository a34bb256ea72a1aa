package daemon

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// TestReloadKeysNeedingARestart changes each key only a restart
// applies, with a new user: the reload applies the user, keeps the
// key's running value and names it in one line.
func TestReloadKeysNeedingARestart(t *testing.T) {
	tests := []struct {
		name  string
		edits map[string]string // key -> new value
		want  string            // the restart_to_apply value
	}{
		{"nflog_group", map[string]string{"nflog_group": "4712"}, "nflog_group"},
		{"metrics_listen", map[string]string{"metrics_listen": `"127.0.0.1:9200"`}, "metrics_listen"},
		{"state_file", map[string]string{"state_file": "/tmp/elsewhere.json"}, "state_file"},
		{"firewall", map[string]string{"firewall": "nftables"}, "firewall"},
		{"all four", map[string]string{"nflog_group": "4712", "metrics_listen": `"127.0.0.1:9200"`, "state_file": "/tmp/elsewhere.json", "firewall": "iptables"},
			"nflog_group,metrics_listen,state_file,firewall"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := setupConfig(t)
			c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
			r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
			defer r.stop(t)
			r.d.mu.Lock()
			before := *r.d.cfg
			r.d.mu.Unlock()
			if want := "metrics=off"; !strings.Contains(r.log.String(), want) {
				t.Errorf("the started line lacks %q:\n%s", want, r.log)
			}
			editConfig(t, cfg.Path, tt.edits)
			added, err := config.AddUser(cfg.Path, config.NewUser{Name: "bob", Open: []string{"tcp/2222"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := added.WriteSecret("bob", []byte("bob's secret is also 32 bytes!!!")); err != nil {
				t.Fatal(err)
			}
			if err := r.d.Reload(); err != nil {
				t.Fatalf("Reload: %v\n%s", err, r.log)
			}
			logs := r.log.String()
			if got := regexp.MustCompile(`restart_to_apply=(\S+)`).FindAllStringSubmatch(logs, -1); len(got) != 1 || got[0][1] != tt.want {
				t.Errorf("restart_to_apply lines %q, want one naming %s:\n%s", got, tt.want, logs)
			}
			if !strings.Contains(logs, `msg="config reloaded" users=2`) {
				t.Errorf("the rest of the reload did not apply:\n%s", logs)
			}
			r.d.mu.Lock()
			now := *r.d.cfg
			r.d.mu.Unlock()
			type start struct {
				Group          uint16
				Metrics, State string
				Firewall       string
			}
			if diff := cmp.Diff(start{before.NFLOGGroup, before.MetricsListen, before.StateFile, before.Firewall},
				start{now.NFLOGGroup, now.MetricsListen, now.StateFile, now.Firewall}); diff != "" {
				t.Errorf("running values (-want +got):\n%s", diff)
			}
		})
	}
}

// editConfig sets top-level keys of the config file at path.
func editConfig(t *testing.T, path string, edits map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range edits {
		re := regexp.MustCompile(`(?m)^` + k + `: .*$`)
		if !re.Match(data) {
			t.Fatalf("no %s line in %s", k, path)
		}
		data = re.ReplaceAll(data, []byte(k+": "+v))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
