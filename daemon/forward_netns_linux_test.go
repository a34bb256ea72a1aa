package daemon

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/sender"
)

// forwardBackends are the firewall backends the Docker-shaped test runs
// on, each opened inside the server's namespace.
var forwardBackends = []struct {
	name string
	open func() (firewall.Backend, error)
}{
	{firewall.ModeIPTables, firewall.KindOf(firewall.ModeIPTables).Open},
}

// dockerFamily is one address family of the Docker shape: the client's
// and a stranger's addresses, the server's published address and the
// container's, and the user who knocks over it.
type dockerFamily struct {
	ipt               string
	client, stranger  netip.Addr
	server, container netip.Addr
	bits              string // prefix length of the links
	user              string
	containerAddrPort string // DNAT target
}

// dockerShape is a published port: the server DNATs tcp/8080 on each of
// its addresses to a "container" namespace behind it (port 80).
type dockerShape struct {
	p    *netnstest.Pair
	ctr  string
	fams []dockerFamily
}

// newDockerShape builds the container behind the server, for IPv4 and
// IPv6; with docker it also builds Docker's filter chains (FORWARD
// dropping by default, DOCKER-USER first, the published port accepted).
func newDockerShape(t *testing.T, docker bool) *dockerShape {
	p := netnstest.NewPair(t)
	d := &dockerShape{p: p, ctr: strings.Replace(p.Server, "srv", "ctr", 1), fams: []dockerFamily{
		{"iptables", p.ClientV4, netip.MustParseAddr("198.18.0.3"), p.ServerV4, netip.MustParseAddr("198.18.5.2"), "24", "bob", "198.18.5.2:80"},
		{"ip6tables", p.ClientV6, netip.MustParseAddr("2001:2::3"), p.ServerV6, netip.MustParseAddr("2001:2:5::2"), "64", "carol", "[2001:2:5::2]:80"},
	}}
	if out, err := exec.Command("ip", "netns", "add", d.ctr).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", d.ctr).Run() })
	if out, err := exec.Command("ip", "link", "add", "ctr0", "netns", p.Server, "type", "veth", "peer", "name", "eth0", "netns", d.ctr).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v\n%s", err, out)
	}
	cmds := [][]string{
		{p.Server, "ip", "link", "set", "ctr0", "up"}, {d.ctr, "ip", "link", "set", "eth0", "up"}, {d.ctr, "ip", "link", "set", "lo", "up"},
		{p.Server, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"},
		{p.Server, "ip", "addr", "add", "198.18.5.1/24", "dev", "ctr0"}, {p.Server, "ip", "addr", "add", "2001:2:5::1/64", "dev", "ctr0", "nodad"},
		{d.ctr, "ip", "addr", "add", "198.18.5.2/24", "dev", "eth0"}, {d.ctr, "ip", "addr", "add", "2001:2:5::2/64", "dev", "eth0", "nodad"},
		{d.ctr, "ip", "route", "add", "default", "via", "198.18.5.1"}, {d.ctr, "ip", "-6", "route", "add", "default", "via", "2001:2:5::1"},
		{p.Client, "ip", "route", "add", "198.18.5.0/24", "via", "198.18.0.1"}, {p.Client, "ip", "-6", "route", "add", "2001:2:5::/64", "via", "2001:2::1"},
	}
	for _, f := range d.fams {
		// The stranger's address is never the route's source: deprecated
		// (IPv6), secondary (IPv4).
		cmds = append(cmds, []string{p.Client, "ip", "addr", "add", f.stranger.String() + "/" + f.bits, "dev", "veth0", "nodad", "preferred_lft", "0"},
			[]string{p.Server, f.ipt, "-t", "nat", "-A", "PREROUTING", "-d", f.server.String(), "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", f.containerAddrPort})
		if docker {
			for _, c := range [][]string{
				{"-N", "DOCKER-USER"}, {"-A", "DOCKER-USER", "-j", "RETURN"}, {"-N", "DOCKER"},
				{"-P", "FORWARD", "DROP"}, {"-A", "FORWARD", "-j", "DOCKER-USER"},
				{"-A", "FORWARD", "-o", "ctr0", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
				{"-A", "FORWARD", "-o", "ctr0", "-j", "DOCKER"}, {"-A", "FORWARD", "-i", "ctr0", "-j", "ACCEPT"},
				{"-A", "DOCKER", "-d", f.container.String(), "!", "-i", "ctr0", "-o", "ctr0", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"},
			} {
				cmds = append(cmds, append([]string{p.Server, f.ipt}, c...))
			}
		}
	}
	for _, c := range cmds {
		p.MustRun(t, c[0], c[1:]...)
	}
	go netnstest.AcceptAll(p.Listen(t, d.ctr, "tcp", "[::]:80"))
	go netnstest.AcceptAll(p.Listen(t, p.Client, "tcp", "[::]:8080")) // a remote service the container uses
	return d
}

// dial connects from ns, from the local address from (zero: the
// route's), to dst.
func (d *dockerShape) dial(t *testing.T, ns string, from netip.Addr, dst netip.AddrPort) bool {
	var err error
	d.p.Do(t, ns, func() {
		dl := net.Dialer{Timeout: 300 * time.Millisecond}
		if from.IsValid() {
			dl.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
		}
		var c net.Conn
		if c, err = dl.Dial("tcp", dst.String()); err == nil {
			c.Close()
		}
	})
	return err == nil
}

// forwardConfig is a config whose bob and carol open tcp/8080, a
// service forwarded to a container; it returns their secrets.
func forwardConfig(t *testing.T) (*config.Config, map[string][]byte) {
	cfg, _ := setupConfig(t)
	secrets := map[string][]byte{"bob": []byte("bob's secret, 32 bytes long!!!!!"), "carol": []byte("carol's secret, 32 bytes long!!!")}
	for _, u := range []string{"bob", "carol"} {
		c, err := config.AddUser(cfg.Path, config.NewUser{Name: u, Open: []string{"tcp/8080"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteSecret(u, secrets[u]); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(cfg.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("services:\n  tcp/8080: {forward: true}\n")
	f.Close()
	cfg, err = config.Load(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, secrets
}

// TestForwardDockerShape runs the daemon with each backend in front of
// a port published over IPv4 and IPv6: closed without a knock, open
// after one for the knocking client only; the container's own
// connections to a remote tcp/8080 pass; a flushed DOCKER-USER or
// FORWARD is repaired.
func TestForwardDockerShape(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	for _, b := range forwardBackends {
		for _, docker := range []bool{true, false} {
			t.Run(b.name+map[bool]string{true: "/DOCKER-USER", false: "/FORWARD"}[docker], func(t *testing.T) {
				testForward(t, b.open, docker)
			})
		}
	}
}

func testForward(t *testing.T, open func() (firewall.Backend, error), docker bool) {
	d := newDockerShape(t, docker)
	p := d.p
	for _, f := range d.fams { // neighbour discovery may take a moment
		ok := false
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !ok; {
			ok = d.dial(t, p.Client, f.stranger, netip.AddrPortFrom(f.server, 8080))
		}
		if !ok {
			t.Fatalf("%s: the published port does not answer before the server: the test proves nothing", f.ipt)
		}
	}
	cfg, secrets := forwardConfig(t)
	log := &netnstest.Buffer{}
	dm := startIn(t, p, open, cfg, log)
	for _, f := range d.fams {
		published := netip.AddrPortFrom(f.server, 8080)
		for _, from := range []netip.Addr{f.client, f.stranger} {
			if d.dial(t, p.Client, from, published) {
				t.Errorf("%s: the published port answers %v before any knock", f.ipt, from)
			}
		}
		knockFrom(t, p, cfg, secrets[f.user], f.server)
		opened := false
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !opened; {
			opened = d.dial(t, p.Client, f.client, published)
		}
		if !opened {
			t.Fatalf("%s: the published port stays closed to the client after its knock:\n%s", f.ipt, log)
		}
		if d.dial(t, p.Client, f.stranger, published) {
			t.Errorf("%s: the knock opened the published port to a stranger", f.ipt)
		}
		if !strings.Contains(log.String(), "msg=grant src="+f.client.String()+" user="+f.user) {
			t.Errorf("%s: no grant logged:\n%s", f.ipt, log)
		}
		if !d.dial(t, d.ctr, netip.Addr{}, netip.AddrPortFrom(f.client, 8080)) {
			t.Errorf("%s: the container's own connection to a remote tcp/8080 was dropped", f.ipt)
		}
	}
	// A restart of Docker (or a reload) flushes the chain the forward
	// path hangs from; the self-check puts it back. The check runs here,
	// in the namespace, as the daemon's ticker would.
	f := d.fams[0]
	published := netip.AddrPortFrom(f.server, 8080)
	from := map[bool]string{true: "DOCKER-USER", false: "FORWARD"}[docker]
	p.MustRun(t, p.Server, "iptables", "-F", from)
	if docker {
		p.MustRun(t, p.Server, "iptables", "-A", from, "-j", "RETURN")
	}
	if !d.dial(t, p.Client, f.stranger, published) {
		t.Errorf("the published port stays closed with %s flushed: the repair proves nothing", from)
	}
	p.Do(t, p.Server, func() { dm.heal("") })
	if !strings.Contains(log.String(), `msg="firewall repaired" missing="iptables: jump from `+from+`"`) {
		t.Errorf("no repair logged:\n%s", log)
	}
	if d.dial(t, p.Client, f.stranger, published) {
		t.Errorf("the published port open to a stranger after the repair")
	}
	if !d.dial(t, p.Client, f.client, published) {
		t.Errorf("the client's grant lost in the repair")
	}
}

// startIn builds a daemon on the real NFLOG listener and the backend
// open returns, both opened in the server's namespace, and runs it
// there; t.Cleanup stops it, removes its firewall and checks that
// nothing is left. Its periodic check never ticks: the daemon's
// goroutines do not run in the namespace, so a test calls heal itself.
func startIn(t *testing.T, p *netnstest.Pair, open func() (firewall.Backend, error), cfg *config.Config, log *netnstest.Buffer) *Daemon {
	var dm *Daemon
	var err error
	p.Do(t, p.Server, func() {
		var fw firewall.Backend
		var src *listener.NFLOG
		if fw, err = open(); err != nil {
			return
		}
		if src, err = listener.Open(listener.DefaultOptions(cfg.NFLOGGroup)); err != nil {
			return
		}
		t.Cleanup(func() { src.Close() })
		dm, err = New(cfg, Deps{Source: src, Firewall: fw, Clock: clock.System{}, Log: slog.New(slog.NewTextHandler(log, nil)), HealEvery: time.Hour})
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go p.Do(t, p.Server, func() { done <- dm.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		p.Do(t, p.Server, func() { err = dm.fw.Remove(dm.plan) })
		if err != nil {
			t.Errorf("remove: %v", err)
		}
		for _, c := range [][]string{{"iptables", "-S"}, {"ip6tables", "-S"}, {"ipset", "list", "-n"}} {
			if out := p.MustRun(t, p.Server, c...); strings.Contains(strings.ToLower(out), "otpknock") {
				t.Errorf("left after Remove, %s:\n%s", strings.Join(c, " "), out)
			}
		}
	})
	return dm
}

// knockFrom sends the user's sequence of the current step from the
// client namespace to dst.
func knockFrom(t *testing.T, p *netnstest.Pair, cfg *config.Config, secret []byte, dst netip.Addr) {
	seq, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, derive.Step(time.Now(), cfg.Params.Period), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	k := &sender.Kernel{}
	p.Do(t, p.Client, func() {
		for _, kn := range seq {
			if _, err := k.Write(context.Background(), dst, kn); err != nil {
				t.Errorf("knock %v: %v", kn, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
