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
	{"iptables", func() (firewall.Backend, error) {
		k, err := firewall.NewKernel()
		if err != nil {
			return nil, err // a nil *Kernel must not become a non-nil Backend
		}
		return k, nil
	}},
}

// dockerShape is a published port: the server DNATs tcp/8080 on its
// address to a "container" namespace behind it (198.18.5.2:80).
type dockerShape struct {
	p         *netnstest.Pair
	ctr       string
	stranger  netip.Addr
	container netip.Addr
}

// newDockerShape builds the container behind the server; with docker it
// also builds Docker's filter chains (FORWARD dropping by default,
// DOCKER-USER first, the published port accepted).
func newDockerShape(t *testing.T, docker bool) *dockerShape {
	p := netnstest.NewPair(t)
	d := &dockerShape{p: p, ctr: strings.Replace(p.Server, "srv", "ctr", 1),
		stranger: netip.MustParseAddr("198.18.0.3"), container: netip.MustParseAddr("198.18.5.2")}
	if out, err := exec.Command("ip", "netns", "add", d.ctr).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", d.ctr).Run() })
	if out, err := exec.Command("ip", "link", "add", "ctr0", "netns", p.Server, "type", "veth", "peer", "name", "eth0", "netns", d.ctr).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v\n%s", err, out)
	}
	for _, c := range [][]string{
		{p.Server, "ip", "addr", "add", "198.18.5.1/24", "dev", "ctr0"}, {p.Server, "ip", "link", "set", "ctr0", "up"},
		{p.Server, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
		{p.Server, "iptables", "-t", "nat", "-A", "PREROUTING", "-d", "198.18.0.1", "-p", "tcp", "--dport", "8080", "-j", "DNAT", "--to-destination", "198.18.5.2:80"},
		{d.ctr, "ip", "addr", "add", "198.18.5.2/24", "dev", "eth0"}, {d.ctr, "ip", "link", "set", "eth0", "up"},
		{d.ctr, "ip", "link", "set", "lo", "up"}, {d.ctr, "ip", "route", "add", "default", "via", "198.18.5.1"},
		{p.Client, "ip", "addr", "add", d.stranger.String() + "/24", "dev", "veth0"},
		{p.Client, "ip", "route", "add", "198.18.5.0/24", "via", "198.18.0.1"},
	} {
		p.MustRun(t, c[0], c[1:]...)
	}
	if docker {
		for _, c := range [][]string{
			{"-N", "DOCKER-USER"}, {"-A", "DOCKER-USER", "-j", "RETURN"}, {"-N", "DOCKER"},
			{"-P", "FORWARD", "DROP"}, {"-A", "FORWARD", "-j", "DOCKER-USER"},
			{"-A", "FORWARD", "-o", "ctr0", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
			{"-A", "FORWARD", "-o", "ctr0", "-j", "DOCKER"}, {"-A", "FORWARD", "-i", "ctr0", "-j", "ACCEPT"},
			{"-A", "DOCKER", "-d", "198.18.5.2/32", "!", "-i", "ctr0", "-o", "ctr0", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"},
		} {
			p.MustRun(t, p.Server, append([]string{"iptables"}, c...)...)
		}
	}
	go netnstest.AcceptAll(p.Listen(t, d.ctr, "tcp", "0.0.0.0:80"))
	go netnstest.AcceptAll(p.Listen(t, p.Client, "tcp", "0.0.0.0:8080")) // a remote service the container uses
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

// forwardConfig is a config whose alice opens tcp/8080, a service
// forwarded to a container.
func forwardConfig(t *testing.T) (*config.Config, []byte) {
	cfg, _ := setupConfig(t)
	if _, err := config.AddUser(cfg.Path, config.NewUser{Name: "bob", Open: []string{"tcp/8080"}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(cfg.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("services:\n  tcp/8080: {forward: true}\n")
	f.Close()
	secret := []byte("bob's secret, 32 bytes long!!!!!")
	if err := cfg.WriteSecret("bob", secret); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, secret
}

// TestForwardDockerShape runs the daemon with each backend in front of
// a published port: closed without a knock, open after one for the
// knocking client only; the container's own connections to a remote
// tcp/8080 pass.
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
	published := netip.AddrPortFrom(p.ServerV4, 8080)
	if !d.dial(t, p.Client, d.stranger, published) {
		t.Fatalf("the published port does not answer before the server: the test proves nothing")
	}
	cfg, secret := forwardConfig(t)
	log := &netnstest.Buffer{}
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
		// No heal ticks: the daemon's goroutines run outside the namespace.
		dm, err = New(cfg, Deps{Source: src, Firewall: fw, Clock: clock.System{}, Log: slog.New(slog.NewTextHandler(log, nil)), HealEvery: time.Hour})
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go p.Do(t, p.Server, func() { done <- dm.Run(ctx) })
	defer func() {
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
	}()
	for _, from := range []netip.Addr{p.ClientV4, d.stranger} {
		if d.dial(t, p.Client, from, published) {
			t.Errorf("the published port answers %v before any knock", from)
		}
	}
	step := derive.Step(time.Now(), cfg.Params.Period)
	seq, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, step, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	k := &sender.Kernel{}
	p.Do(t, p.Client, func() {
		for _, kn := range seq {
			if _, err := k.Write(context.Background(), p.ServerV4, kn); err != nil {
				t.Errorf("knock %v: %v", kn, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	opened := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !opened; {
		opened = d.dial(t, p.Client, p.ClientV4, published)
	}
	if !opened {
		t.Fatalf("the published port stays closed to the client after its knock:\n%s", log)
	}
	if d.dial(t, p.Client, d.stranger, published) {
		t.Errorf("the knock opened the published port to a stranger")
	}
	if !strings.Contains(log.String(), "msg=grant src=198.18.0.2 user=bob") {
		t.Errorf("no grant logged:\n%s", log)
	}
	if !d.dial(t, d.ctr, netip.Addr{}, netip.AddrPortFrom(p.ClientV4, 8080)) {
		t.Errorf("the container's own connection to a remote tcp/8080 was dropped")
	}
	// A restart of Docker (or a reload) flushes the chain the forward
	// path hangs from; the self-check puts it back. The check runs here,
	// in the namespace, as the daemon's ticker would.
	from := map[bool]string{true: "DOCKER-USER", false: "FORWARD"}[docker]
	p.MustRun(t, p.Server, "iptables", "-F", from)
	if docker {
		p.MustRun(t, p.Server, "iptables", "-A", from, "-j", "RETURN")
	}
	if !d.dial(t, p.Client, d.stranger, published) {
		t.Errorf("the published port stays closed with %s flushed: the repair proves nothing", from)
	}
	p.Do(t, p.Server, func() { dm.heal("") })
	if !strings.Contains(log.String(), `msg="firewall repaired" missing="iptables: jump from `+from+`"`) {
		t.Errorf("no repair logged:\n%s", log)
	}
	if d.dial(t, p.Client, d.stranger, published) {
		t.Errorf("the published port open to a stranger after the repair")
	}
	if !d.dial(t, p.Client, p.ClientV4, published) {
		t.Errorf("the client's grant lost in the repair")
	}
}
