package e2e

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestPrefixGrant runs the real server with a user whose grants open
// a prefix (--grant-prefix 24,64), on both backends: after a knock
// from 198.18.0.2 another address of 198.18.0.0/24 reaches the
// service and one outside does not; the same over IPv6 with the /64.
func TestPrefixGrant(t *testing.T) {
	for _, tt := range []struct {
		backend string
		tools   []string
	}{
		{"iptables", []string{"iptables", "ip6tables", "ipset"}},
		{"nftables", []string{"nft"}},
	} {
		t.Run(tt.backend, func(t *testing.T) {
			w := newWorldWith(t, tt.backend, tt.tools...)
			p := w.p
			uri := regexp.MustCompile(`otpauth://\S+`).FindString(w.must(p.Server, "user", "add", "erin", "-c", w.cfg,
				"--open", "tcp/2226", "--grant-prefix", "24,64", "--no-qr"))
			for _, imp := range [][]string{{"--name", "erin"}, {"--name", "erin6", "--host", p.ServerV6.String()}} {
				cmd := p.Cmd(p.Client, append([]string{bins.Client, "import", "-"}, imp...)...)
				cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
				cmd.Stdin = strings.NewReader(uri)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("import %v: %v\n%s", imp, err, out)
				}
			}
			go netnstest.AcceptAll(p.Listen(t, p.Server, "tcp", "[::]:2226"))
			// Beside the stranger (198.18.0.3, inside the /24): an
			// address of each family outside the prefixes, routed back
			// from the server; and another address of the client's /64.
			far4, far6, near6 := "198.18.1.5", "2001:2:0:1::5", "2001:2::3"
			p.MustRun(t, p.Client, "ip", "addr", "add", far4+"/24", "dev", "veth0")
			p.MustRun(t, p.Server, "ip", "route", "add", "198.18.1.0/24", "dev", "veth0")
			for _, a := range []string{far6 + "/64", near6 + "/128"} {
				p.MustRun(t, p.Client, "ip", "addr", "add", a, "dev", "veth0", "nodad", "preferred_lft", "0")
			}
			p.MustRun(t, p.Server, "ip", "-6", "route", "add", "2001:2:0:1::/64", "dev", "veth0")
			w.startServer()
			if !w.open(netip.MustParseAddr(far4), p.ServerV4, 3000) || !w.open(netip.MustParseAddr(far6), p.ServerV6, 3000) || !w.open(netip.MustParseAddr(near6), p.ServerV6, 3000) {
				t.Fatalf("controls failed: the extra addresses do not reach an unprotected port")
			}
			if w.open(w.stranger, p.ServerV4, 2226) {
				t.Fatalf("tcp/2226 open before a knock")
			}
			if _, _, err := w.knock("erin", 2226); err != nil {
				t.Fatalf("erin's knock: %v", err)
			}
			w.waitLog("msg=grant src=198.18.0.2 user=erin")
			w.waitLog("prefix=198.18.0.0/24")
			if !w.open(w.stranger, p.ServerV4, 2226) {
				t.Errorf("198.18.0.3, in the granted /24, does not reach tcp/2226")
			}
			if w.open(netip.MustParseAddr(far4), p.ServerV4, 2226) {
				t.Errorf("%s, outside the granted /24, reaches tcp/2226", far4)
			}
			if status := w.must(p.Server, "firewall", "status", "-c", w.cfg); !regexp.MustCompile(`198\.18\.0\.0/24\s+tcp/2226\s`).MatchString(status) ||
				!regexp.MustCompile(`Sets \w+4, \w+6, \w+net4, \w+net6: 1 grant\.`).MatchString(status) {
				t.Errorf("firewall status does not name the IPv4 prefix and the prefix sets:\n%s", status)
			}
			time.Sleep(2 * time.Second) // the next step: erin's last one is used
			if _, _, err := w.knock("erin6", 2226); err != nil {
				t.Fatalf("erin6's knock: %v", err)
			}
			w.waitLog("prefix=2001:2::/64")
			if !w.open(netip.MustParseAddr(near6), p.ServerV6, 2226) {
				t.Errorf("%s, in the granted /64, does not reach tcp/2226", near6)
			}
			if w.open(netip.MustParseAddr(far6), p.ServerV6, 2226) {
				t.Errorf("%s, outside the granted /64, reaches tcp/2226", far6)
			}
			if status := w.must(p.Server, "firewall", "status", "-c", w.cfg); !regexp.MustCompile(`2001:2::/64\s+tcp/2226\s`).MatchString(status) {
				t.Errorf("firewall status does not name the IPv6 prefix:\n%s", status)
			}
			w.stopServer(syscall.SIGTERM)
		})
	}
}
