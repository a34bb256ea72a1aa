package packaging

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// bins are the programs the boot tests run: otpknockd locks the ports.
var bins netnstest.Binaries

func TestMain(m *testing.M) {
	os.Exit(netnstest.RunWithBinaries(m, &bins))
}

// debianNftablesConf is Debian's default /etc/nftables.conf, which
// nftables.service loads at boot with nft -f.
const debianNftablesConf = `#!/usr/sbin/nft -f

flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter;
	}
	chain forward {
		type filter hook forward priority filter;
	}
	chain output {
		type filter hook output priority filter;
	}
}
`

// persistentRules is /etc/iptables/rules.v4 (and rules.v6) as
// netfilter-persistent saves an empty host's, which it restores at boot
// with iptables-restore (ip6tables-restore).
const persistentRules = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
`

// TestBootOrder runs the host firewall's boot-time load and otpknock's
// lock in a namespace, in both orders, for each backend: loaded first and
// locked after (the order otpknock-lock.service's After= gives), the
// protected port is closed; locked first, the load deletes the lock and
// the port is open, which is why the unit must come after. A lock run
// again after a load (a restart of the firewall unit restarts the lock)
// closes the port again, on iptables with the ipsets the load left.
func TestBootOrder(t *testing.T) {
	netnstest.Require(t, "nft", "iptables-restore", "ip6tables-restore", "ipset")
	dir := t.TempDir()
	write(t, dir, "nftables.conf", debianNftablesConf)
	write(t, dir, "rules", persistentRules)
	loads := map[string][][]string{
		"nftables": {{"nft", "-f", filepath.Join(dir, "nftables.conf")}},
		"iptables": {{"iptables-restore", filepath.Join(dir, "rules")}, {"ip6tables-restore", filepath.Join(dir, "rules")}},
	}
	tests := []struct {
		backend  string
		order    string // "load" and "lock", in the order they run
		wantOpen bool
	}{
		{"nftables", "load lock", false},
		{"nftables", "lock load", true},
		{"nftables", "lock load lock", false}, // a restart of the firewall unit, then of the lock (PartOf=)
		{"iptables", "load lock", false},
		{"iptables", "lock load", true},
		{"iptables", "lock load lock", false},
	}
	for _, tt := range tests {
		t.Run(tt.backend+": "+tt.order, func(t *testing.T) {
			p := netnstest.NewPair(t)
			cfg := lockConfig(t, p, tt.backend)
			for _, port := range []string{"2222", "3000"} {
				go netnstest.AcceptAll(p.Listen(t, p.Server, "tcp", "0.0.0.0:"+port))
			}
			for _, step := range strings.Fields(tt.order) {
				cmds := loads[tt.backend]
				if step == "lock" {
					cmds = [][]string{{bins.Server, "firewall", "lock", "-c", cfg}}
				}
				for _, c := range cmds {
					p.MustRun(t, p.Server, c...)
				}
			}
			if !dials(t, p, "3000") {
				t.Fatal("the unprotected tcp/3000 does not answer: the check proves nothing")
			}
			if got := dials(t, p, "2222"); got != tt.wantOpen {
				rules, _ := p.Cmd(p.Server, "nft", "list", "ruleset").CombinedOutput()
				t.Errorf("tcp/2222 open = %v, want %v; ruleset:\n%s", got, tt.wantOpen, rules)
			}
		})
	}
}

// lockConfig writes a server config protecting tcp/2222 with backend
// and returns its path.
func lockConfig(t *testing.T, p *netnstest.Pair, backend string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	p.MustRun(t, p.Server, bins.Server, "init", "-c", cfg, "--server-id", "boot", "--host", p.ServerV4.String(), "--state-file", filepath.Join(dir, "state.json"))
	p.MustRun(t, p.Server, bins.Server, "user", "add", "alice", "-c", cfg, "--open", "tcp/2222", "--no-qr")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(data), "\nfirewall: auto\n", "\nfirewall: "+backend+"\n", 1)
	if out == string(data) {
		t.Fatalf("no firewall: auto in %s:\n%s", cfg, data)
	}
	write(t, dir, "config.yaml", out)
	return cfg
}

// dials reports whether the client connects to the server's port.
func dials(t *testing.T, p *netnstest.Pair, port string) bool {
	t.Helper()
	var ok bool
	p.Do(t, p.Client, func() {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(p.ServerV4.String(), port), time.Second)
		if err == nil {
			c.Close()
			ok = true
		}
	})
	return ok
}
