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
			w.addPrefixUser(t, "tcp/2226")
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

// TestPrefixGrantForward runs the real server with a service forwarded
// to a container (services: tcp/8080: {forward: true}, DNAT to port 80
// of a container namespace over IPv4 and IPv6) and a user whose grants
// open a prefix, on both backends: after a knock another address of
// the client's /24 (or /64) reaches the container through the
// published port and one outside does not; the server logs the grant
// with its prefix, and firewall status names the forward path's sets.
func TestPrefixGrantForward(t *testing.T) {
	for _, tt := range []struct {
		backend string
		tools   []string
	}{
		{"iptables", []string{"iptables", "ip6tables", "ipset"}},
		{"nftables", []string{"nft", "iptables", "ip6tables"}},
	} {
		t.Run(tt.backend, func(t *testing.T) {
			w := newWorldWith(t, tt.backend, tt.tools...)
			p := w.p
			w.addPrefixUser(t, "tcp/8080")
			f, err := os.OpenFile(w.cfg, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteString("services:\n  tcp/8080: {forward: true}\n")
			if cerr := f.Close(); err != nil || cerr != nil {
				t.Fatalf("marking tcp/8080 forwarded: %v %v", err, cerr)
			}
			publishContainer(t, p)
			near4, far4, near6, far6 := w.stranger, netip.MustParseAddr("198.18.1.5"), netip.MustParseAddr("2001:2::3"), netip.MustParseAddr("2001:2:0:1::5")
			p.MustRun(t, p.Client, "ip", "addr", "add", far4.String()+"/24", "dev", "veth0")
			p.MustRun(t, p.Server, "ip", "route", "add", "198.18.1.0/24", "dev", "veth0")
			for _, a := range []string{far6.String() + "/64", near6.String() + "/128"} {
				p.MustRun(t, p.Client, "ip", "addr", "add", a, "dev", "veth0", "nodad", "preferred_lft", "0")
			}
			p.MustRun(t, p.Server, "ip", "-6", "route", "add", "2001:2:0:1::/64", "dev", "veth0")
			for _, src := range []netip.Addr{near4, far4, near6, far6} {
				dst := p.ServerV4
				if src.Is6() {
					dst = p.ServerV6
				}
				if !w.open(src, dst, 8080) {
					t.Fatalf("control: %v does not reach the published port before the server starts", src)
				}
			}
			w.startServer()
			if w.open(near4, p.ServerV4, 8080) {
				t.Fatalf("the published tcp/8080 open before a knock")
			}
			if _, _, err := w.knock("erin", 8080); err != nil {
				t.Fatalf("erin's knock: %v\n%s", err, w.log)
			}
			w.waitLog("prefix=198.18.0.0/24")
			if !w.open(near4, p.ServerV4, 8080) {
				t.Errorf("%v, in the granted /24, does not reach the published tcp/8080", near4)
			}
			if w.open(far4, p.ServerV4, 8080) {
				t.Errorf("%v, outside the granted /24, reaches the published tcp/8080", far4)
			}
			if tt.backend == "iptables" {
				if status := w.must(p.Server, "firewall", "status", "-c", w.cfg); !strings.Contains(status,
					"Sets of the forwarded services: otpknock4-tcp-8080, otpknocknet4-tcp-8080, otpknock6-tcp-8080, otpknocknet6-tcp-8080.") {
					t.Errorf("firewall status does not name the forward path's sets:\n%s", status)
				}
			}
			time.Sleep(2 * time.Second) // the next step: erin's last one is used
			if _, _, err := w.knock("erin6", 8080); err != nil {
				t.Fatalf("erin6's knock: %v\n%s", err, w.log)
			}
			w.waitLog("prefix=2001:2::/64")
			if !w.open(near6, p.ServerV6, 8080) {
				t.Errorf("%v, in the granted /64, does not reach the published tcp/8080", near6)
			}
			if w.open(far6, p.ServerV6, 8080) {
				t.Errorf("%v, outside the granted /64, reaches the published tcp/8080", far6)
			}
			if strings.Contains(w.log.String(), "grant failed") {
				t.Errorf("the server logged a failed grant:\n%s", w.log)
			}
			w.stopServer(syscall.SIGTERM)
		})
	}
}

// addPrefixUser adds erin with --open svc and --grant-prefix 24,64 and
// imports her twice on the client: erin knocks the server's IPv4
// address, erin6 its IPv6 one.
func (w *world) addPrefixUser(t *testing.T, svc string) {
	t.Helper()
	p := w.p
	uri := regexp.MustCompile(`otpauth://\S+`).FindString(w.must(p.Server, "user", "add", "erin", "-c", w.cfg,
		"--open", svc, "--grant-prefix", "24,64", "--no-qr"))
	for _, imp := range [][]string{{"--name", "erin"}, {"--name", "erin6", "--host", p.ServerV6.String()}} {
		cmd := p.Cmd(p.Client, append([]string{bins.Client, "import", "-"}, imp...)...)
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
		cmd.Stdin = strings.NewReader(uri)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import %v: %v\n%s", imp, err, out)
		}
	}
}

// publishContainer makes a container namespace beside the pair's
// server (198.18.9.2 and 2001:2:9::2, routed through the server) with
// a listener on port 80, and DNATs tcp/8080 of the server to it in
// both families, as docker run -p 8080:80 does.
func publishContainer(t *testing.T, p *netnstest.Pair) {
	t.Helper()
	go netnstest.AcceptAll(p.Listen(t, p.Container(t), "tcp", "[::]:80"))
}
