package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestMaintainerTeardown runs the packages' teardown (common.sh's
// otpknock_teardown, which prerm and preun run) in a namespace where a
// lock of each backend is installed, with /etc/otpknock/config.yaml
// broken or missing (in an overlay on /etc, private to the run): it
// removes the table, the chain and the sets all the same.
func TestMaintainerTeardown(t *testing.T) {
	netnstest.Require(t, "unshare", "nft", "iptables", "ip6tables")
	for _, tt := range []struct {
		name   string
		config func(t *testing.T, good []byte) []byte // nil: no config file
		warn   string
	}{
		{"broken config", func(t *testing.T, good []byte) []byte { return append(good, "open_timout: 30s\n"...) }, "unknown field open_timout"},
		{"missing config", nil, "does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := netnstest.NewPair(t)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			mustServer(t, p, "init", "-c", cfg, "--server-id", "gw1", "--host", p.ServerV4.String(), "--state-file", filepath.Join(dir, "state.json"))
			mustServer(t, p, "user", "add", "alice", "-c", cfg, "--open", "tcp/2222", "--no-qr", "--no-reload")
			good, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, backend := range []string{"nftables", "iptables"} {
				data := regexp.MustCompile(`(?m)^firewall: \w+$`).ReplaceAll(good, []byte("firewall: "+backend))
				if err := os.WriteFile(cfg, data, 0o600); err != nil {
					t.Fatal(err)
				}
				mustServer(t, p, "firewall", "lock", "-c", cfg)
			}
			installed := p.MustRun(t, p.Server, "nft", "list", "tables") + p.MustRun(t, p.Server, "iptables", "-S")
			if !strings.Contains(installed, "table inet otpknock") || !strings.Contains(installed, "-N OTPKNOCK") {
				t.Fatalf("locks not installed:\n%s", installed)
			}
			etc := filepath.Join(dir, "etc")
			script := "set -e\nmount --make-rprivate /\nmkdir -p " + etc + "/upper " + etc + "/work\n" +
				"mount -t overlay overlay -o lowerdir=/etc,upperdir=" + etc + "/upper,workdir=" + etc + "/work /etc\nrm -rf /etc/otpknock\n" +
				// The host's own server, if any, is not this test's: an empty
				// state directory, where remove looks for a running server.
				"if [ -d /var/lib/otpknock ]; then mount -t tmpfs tmpfs /var/lib/otpknock; fi\n"
			if tt.config != nil {
				broken := filepath.Join(dir, "broken.yaml")
				if err := os.WriteFile(broken, tt.config(t, good), 0o600); err != nil {
					t.Fatal(err)
				}
				script += "mkdir /etc/otpknock && cp " + broken + " /etc/otpknock/config.yaml\n"
			}
			common, err := os.ReadFile("../packaging/common.sh")
			if err != nil {
				t.Fatal(err)
			}
			script += string(common) + "\nPATH=" + filepath.Dir(bins.Server) + ":$PATH\notpknock_teardown true\n"
			cmd := p.Cmd(p.Server, "unshare", "--mount", "sh", "-c", script)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if out, err := cmd.Output(); err != nil || len(out) != 0 {
				t.Fatalf("teardown: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
			}
			if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "warning: ") || !strings.Contains(got, tt.warn) {
				t.Errorf("teardown's stderr %q: want one warning naming %q", got, tt.warn)
			}
			left := p.MustRun(t, p.Server, "nft", "list", "tables") + p.MustRun(t, p.Server, "iptables", "-S") + p.MustRun(t, p.Server, "ip6tables", "-S")
			if strings.Contains(strings.ToLower(left), "otpknock") {
				t.Errorf("after the teardown:\n%s", left)
			}
			st, err := exec.Command("ip", "netns", "exec", p.Server, bins.Server, "firewall", "status", "-c", cfg).CombinedOutput()
			if err != nil || !strings.Contains(string(st), "Not installed") {
				t.Errorf("firewall status after the teardown: %v\n%s", err, st)
			}
		})
	}
}

// mustServer runs otpknockd args in the pair's server namespace.
func mustServer(t *testing.T, p *netnstest.Pair, args ...string) string {
	t.Helper()
	out, err := p.Cmd(p.Server, append([]string{bins.Server}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("otpknockd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
