package netnstest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// EnvRequire names the variable that turns skips into failures.
const EnvRequire = "OTPKNOCK_REQUIRE_INTEGRATION"

// Require skips the test unless it runs as root with ip(8) available;
// with OTPKNOCK_REQUIRE_INTEGRATION=1 it fails instead of skipping.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces"
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil && why == "" {
			why = fmt.Sprintf("needs %s (make deps installs it)", tool)
		}
	}
	if why == "" {
		return
	}
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("integration test %s, and %s=1 forbids skipping", why, EnvRequire)
	}
	t.Skipf("integration test %s (set %s=1 to make this a failure)", why, EnvRequire)
}

// Pair is two namespaces joined by veth0 on each side.
type Pair struct {
	Server, Client     string // namespace names
	ServerV4, ClientV4 netip.Addr
	ServerV6, ClientV6 netip.Addr
}

var seq atomic.Int32

// NewPair creates the namespaces and the link; t.Cleanup removes them.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	n := seq.Add(1)
	p := &Pair{
		Server: fmt.Sprintf("otpk-%d-%d-srv", os.Getpid(), n), Client: fmt.Sprintf("otpk-%d-%d-cli", os.Getpid(), n),
		ServerV4: netip.MustParseAddr("198.18.0.1"), ClientV4: netip.MustParseAddr("198.18.0.2"),
		ServerV6: netip.MustParseAddr("2001:2::1"), ClientV6: netip.MustParseAddr("2001:2::2"),
	}
	for _, ns := range []string{p.Server, p.Client} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", "veth0", "netns", p.Server, "type", "veth", "peer", "name", "veth0", "netns", p.Client)
	for _, side := range []struct {
		ns     string
		v4, v6 netip.Addr
	}{{p.Server, p.ServerV4, p.ServerV6}, {p.Client, p.ClientV4, p.ClientV6}} {
		p.MustRun(t, side.ns, "ip", "addr", "add", side.v4.String()+"/24", "dev", "veth0")
		p.MustRun(t, side.ns, "ip", "addr", "add", side.v6.String()+"/64", "dev", "veth0", "nodad")
		p.MustRun(t, side.ns, "ip", "link", "set", "veth0", "up")
		p.MustRun(t, side.ns, "ip", "link", "set", "lo", "up")
	}
	return p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Cmd returns a command that runs in namespace ns.
func (p *Pair) Cmd(ns string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
}

// MustRun runs a command in namespace ns and returns its output.
func (p *Pair) MustRun(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// Do runs fn on a thread inside namespace ns: sockets fn opens belong to
// ns and stay usable from any goroutine afterwards.
func (p *Pair) Do(t testing.TB, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("cannot return to the test's namespace: %v", err))
		}
	}()
	fn()
}

// Listen opens a listener inside namespace ns.
func (p *Pair) Listen(t testing.TB, ns, network, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	p.Do(t, ns, func() { ln, err = net.Listen(network, addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Capture is a running tcpdump in a namespace.
type Capture struct {
	cmd   *exec.Cmd
	lines chan string
}

// StartCapture runs tcpdump on veth0 of ns with the given filter, on
// incoming packets (or on those of direction "out"), and returns once it
// is listening.
func (p *Pair) StartCapture(t testing.TB, ns, filter string, direction ...string) *Capture {
	t.Helper()
	dir := "in"
	if len(direction) > 0 {
		dir = direction[0]
	}
	return p.startTcpdump(t, ns, "-Q", dir, filter)
}

// StartHexCapture is StartCapture of incoming packets with tcpdump's -x:
// each packet's line is followed by lines of its bytes from the IP
// header on ("\t0x0000:  4500 ...").
func (p *Pair) StartHexCapture(t testing.TB, ns, filter string) *Capture {
	t.Helper()
	return p.startTcpdump(t, ns, "-x", "-Q", "in", filter)
}

// startTcpdump runs tcpdump on veth0 of ns with args and returns once it
// is listening.
func (p *Pair) startTcpdump(t testing.TB, ns string, args ...string) *Capture {
	t.Helper()
	cmd := p.Cmd(ns, append([]string{"tcpdump", "-i", "veth0", "-nn", "-t", "-l"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := &Capture{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.TrimSpace(s.Text()) != "" {
				c.lines <- s.Text()
			}
		}
		close(c.lines)
	}()
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			if strings.Contains(s.Text(), "listening on") {
				close(ready)
				break
			}
		}
		for s.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump in %s did not start listening within 10s", ns)
	}
	return c
}

// Stop waits quiet, then stops the capture and returns its lines.
func (c *Capture) Stop(quiet time.Duration) []string {
	time.Sleep(quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.cmd.Process.Signal(os.Interrupt)
	var out []string
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return out
			}
			out = append(out, l)
		case <-ctx.Done():
			return out
		}
	}
}
