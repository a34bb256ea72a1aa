package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/sender"
)

// world is a server namespace guarding three services and a client.
type world struct {
	t        *testing.T
	p        *netnstest.Pair
	cfg      string
	store    string
	server   *exec.Cmd
	log      *netnstest.Buffer
	stranger netip.Addr
	// checkLines is the number of lines server --check prints for the
	// service user, where the package is installed (serviceLayout).
	checkLines int
}

func (w *world) otpknock(ns string, args ...string) (string, error) {
	cmd := w.p.Cmd(ns, append([]string{program(args...)}, args...)...)
	cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (w *world) must(ns string, args ...string) string {
	w.t.Helper()
	out, err := w.otpknock(ns, args...)
	if err != nil {
		w.t.Fatalf("otpknock %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (w *world) startServer() {
	w.t.Helper()
	w.log = &netnstest.Buffer{}
	w.server = w.p.Cmd(w.p.Server, bins.Server, "server", "-c", w.cfg)
	w.server.Stderr = w.log
	if err := w.server.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.waitLog("msg=started")
}

func (w *world) stopServer(sig syscall.Signal) {
	w.t.Helper()
	w.server.Process.Signal(sig)
	err := w.server.Wait()
	if sig == syscall.SIGTERM && err != nil {
		w.t.Errorf("server exit after SIGTERM: %v\n%s", err, w.log)
	}
}

func (w *world) waitLog(s string) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.log.String(), s) {
		if time.Now().After(deadline) {
			w.t.Fatalf("server log never said %q:\n%s", s, w.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// open tries a TCP connection from the client namespace, from the given
// local address (zero: the route's).
func (w *world) open(from, dst netip.Addr, port uint16) bool {
	var err error
	w.p.Do(w.t, w.p.Client, func() {
		d := net.Dialer{Timeout: 300 * time.Millisecond}
		if from.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
		}
		var c net.Conn
		if c, err = d.Dial("tcp", netip.AddrPortFrom(dst, port).String()); err == nil {
			c.Close()
		}
	})
	return err == nil
}

// closesAfter probes port every 100 ms and returns how long after since
// it stopped answering (0: still open after 6 s).
func (w *world) closesAfter(since time.Time, port uint16) time.Duration {
	for time.Since(since) < 6*time.Second {
		if !w.open(netip.Addr{}, w.p.ServerV4, port) {
			return time.Since(since)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0
}

// sendFrom sends knocks from the client namespace with the route's
// source set to src: a replay of captured packets from another address.
func (w *world) sendFrom(src netip.Addr, ks []string) {
	w.t.Helper()
	w.p.MustRun(w.t, w.p.Client, "ip", "route", "replace", w.p.ServerV4.String()+"/32", "dev", "veth0", "src", src.String())
	defer w.p.MustRun(w.t, w.p.Client, "ip", "route", "del", w.p.ServerV4.String()+"/32")
	k := &sender.Kernel{}
	w.p.Do(w.t, w.p.Client, func() {
		for _, s := range ks {
			kn, _ := derive.ParseKnock(s)
			if _, err := k.Write(context.Background(), w.p.ServerV4, kn); err != nil {
				w.t.Errorf("replaying %s: %v", s, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

var sentRE = regexp.MustCompile(`knock \d+/\d+ (\S+)`)

// knock sends a profile's sequence with --wait on port; it returns the
// knocks sent and when the service answered.
func (w *world) knock(profile string, port int, extra ...string) ([]string, time.Time, error) {
	out, err := w.otpknock(w.p.Client, append([]string{"send", profile, "-v", "--wait", fmt.Sprintf("tcp/%d,2s", port), "--retries", "0"}, extra...)...)
	var ks []string
	for _, m := range sentRE.FindAllStringSubmatch(out, -1) {
		ks = append(ks, m[1])
	}
	if err != nil {
		err = fmt.Errorf("%v\n%s", err, out)
	}
	return ks, time.Now(), err
}

func newWorld(t *testing.T) *world { return newWorldWith(t, "iptables", "iptables", "ip6tables") }

// newWorldWith builds the world with the config's firewall key set to
// backend (auto, nftables or iptables); tools are the commands it needs.
func newWorldWith(t *testing.T, backend string, tools ...string) *world {
	netnstest.Require(t, tools...)
	p := netnstest.NewPair(t)
	dir := t.TempDir()
	w := &world{t: t, p: p, cfg: filepath.Join(dir, "etc", "config.yaml"), store: filepath.Join(dir, "client", "client.yaml"),
		stranger: netip.MustParseAddr("198.18.0.3")}
	p.MustRun(t, p.Client, "ip", "addr", "add", w.stranger.String()+"/24", "dev", "veth0")
	w.must(p.Server, "init", "-c", w.cfg, "--server-id", "gw1", "--host", p.ServerV4.String(), "--state-file", filepath.Join(dir, "state", "state.json"))
	data, _ := os.ReadFile(w.cfg)
	data = bytes.Replace(data, []byte("step: 30s"), []byte("step: 2s"), 1)
	data = bytes.Replace(data, []byte("open_timeout: 30s"), []byte("open_timeout: 3s"), 1)
	data = bytes.Replace(data, []byte("firewall: auto"), []byte("firewall: "+backend), 1)
	os.WriteFile(w.cfg, data, 0o600)
	users := []struct{ name, port, from string }{{"alice", "2222", ""}, {"bob", "2223", ""}, {"carol", "2224", "203.0.113.0/24"}, {"dave", "2225", ""}}
	for _, u := range users {
		args := []string{"user", "add", u.name, "-c", w.cfg, "--open", "tcp/" + u.port, "--no-qr"}
		if u.from != "" {
			args = append(args, "--from", u.from)
		}
		uri := regexp.MustCompile(`otpauth://\S+`).FindString(w.must(p.Server, args...))
		cmd := p.Cmd(p.Client, bins.Client, "import", "-", "--name", u.name)
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
		cmd.Stdin = strings.NewReader(uri)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import %s: %v\n%s", u.name, err, out)
		}
		if u.name == "alice" {
			cmd := p.Cmd(p.Client, bins.Client, "import", "-", "--name", "alice6", "--host", p.ServerV6.String())
			cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
			cmd.Stdin = strings.NewReader(uri)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("import alice6: %v\n%s", err, out)
			}
		}
	}
	w.checkLines = serviceLayout(t, dir, len(users))
	for _, port := range []string{"2222", "2223", "2224", "2225", "3000"} {
		go netnstest.AcceptAll(p.Listen(t, p.Server, "tcp", "[::]:"+port))
	}
	t.Cleanup(func() {
		if w.server != nil && w.server.ProcessState == nil {
			w.server.Process.Kill()
			w.server.Wait()
		}
	})
	return w
}

// whileRunning checks that a second server and firewall remove refuse,
// with exit 1, naming the running server first, and change nothing.
func (w *world) whileRunning(runs string) {
	w.t.Helper()
	before := w.p.MustRun(w.t, w.p.Server, "nft", "list", "tables") + w.p.MustRun(w.t, w.p.Server, "iptables", "-S")
	for _, args := range [][]string{{"server", "-c", w.cfg}, {"firewall", "remove", "-c", w.cfg}} {
		out, err := w.otpknock(w.p.Server, args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.HasPrefix(out, "otpknockd: "+runs) || strings.Count(out, "\n") != 1 {
			w.t.Errorf("%s while a server runs: %v, want exit 1 and one line starting %q:\n%s", strings.Join(args, " "), err, runs, out)
		}
	}
	if after := w.p.MustRun(w.t, w.p.Server, "nft", "list", "tables") + w.p.MustRun(w.t, w.p.Server, "iptables", "-S"); after != before {
		w.t.Errorf("the firewall changed while refusing:\n%s\nwas:\n%s", after, before)
	}
}

// TestServerEndToEnd runs the real server in a namespace and knocks
// from another with the real client.
func TestServerEndToEnd(t *testing.T) {
	w := newWorld(t)
	p := w.p
	if out := w.must(p.Server, "server", "--check", "-c", w.cfg); strings.Count(out, "ok   ") != 11+w.checkLines || strings.Contains(out, "FAIL") {
		t.Errorf("server --check before start (want %d ok lines):\n%s", 11+w.checkLines, out)
	}
	w.startServer()
	none := netip.Addr{}
	runs := fmt.Sprintf("a server already runs (pid %d, %s)", w.server.Process.Pid, filepath.Join(filepath.Dir(filepath.Dir(w.cfg)), "state", "otpknock.pid"))
	if out := w.must(p.Server, "server", "--check", "-c", w.cfg); !strings.HasPrefix(out, "warn "+runs) || !strings.Contains(out, "held by the running server") || !strings.Contains(out, "otpknock's installed: true") {
		t.Errorf("server --check while running, want a first line naming %q:\n%s", runs, out)
	}
	w.whileRunning(runs)

	if w.open(none, p.ServerV4, 2222) || w.open(none, p.ServerV6, 2222) {
		t.Fatalf("protected port open before any knock")
	}
	alice, grantedAt, err := w.knock("alice", 2222)
	if err != nil {
		t.Fatalf("alice's knock: %v", err)
	}
	w.waitLog("msg=grant src=198.18.0.2 user=alice")
	// Controls: the stranger's address works (an unprotected port answers
	// it), and the granted port answers alice.
	if !w.open(w.stranger, p.ServerV4, 3000) || !w.open(none, p.ServerV4, 2222) {
		t.Fatalf("controls failed: the checks below would prove nothing")
	}
	if w.open(w.stranger, p.ServerV4, 2222) {
		t.Errorf("alice's grant opened the port for another address")
	}
	status := w.must(p.Server, "firewall", "status", "-c", w.cfg)
	if !regexp.MustCompile(`198\.18\.0\.2\s+tcp/2222\s+[1-3]s`).MatchString(status) || !strings.Contains(status, "knock logging on") {
		t.Errorf("firewall status:\n%s", status)
	}
	if w.open(none, p.ServerV4, 2223) {
		t.Errorf("alice's grant opened bob's port")
	}

	// Replays of alice's packets from another address; from hers, a
	// duplicate of her grant.
	w.sendFrom(w.stranger, alice)
	w.waitLog("msg=replay src=198.18.0.3 user=alice")
	if w.open(w.stranger, p.ServerV4, 2222) {
		t.Errorf("replay from another address opened the port")
	}
	w.sendFrom(p.ClientV4, alice)
	w.waitLog("msg=duplicate src=198.18.0.2 user=alice")

	// The grant closes on time (open_timeout 3s, within 1s).
	closedAfter := w.closesAfter(grantedAt, 2222)
	if closedAfter < 2*time.Second || closedAfter > 4*time.Second {
		t.Errorf("grant closed %v after the door opened, want 3s +- 1s", closedAfter)
	}

	// from CIDRs: carol may knock from 203.0.113.0/24 only.
	if _, _, err := w.knock("carol", 2224); err == nil {
		t.Errorf("carol's knock from outside her from CIDR opened the port")
	}
	w.waitLog("msg=\"refused source\" src=198.18.0.2 user=carol")

	// IPv6.
	if _, _, err := w.knock("alice6", 2222, "-6"); err != nil {
		t.Errorf("alice over IPv6: %v", err)
	}
	w.waitLog("msg=grant src=2001:2::2 user=alice")

	// A clean stop keeps the ports closed; a restart duplicates nothing
	// and does not accept a used sequence again.
	w.stopServer(syscall.SIGTERM)
	if !strings.Contains(w.log.String(), "the protected ports stay closed until the server starts again; otpknockd firewall remove opens them") {
		t.Errorf("the stop lines do not say the ports stay closed and how to open them:\n%s", w.log)
	}
	rules := p.MustRun(t, p.Server, "iptables", "-S", "OTPKNOCK")
	if strings.Contains(rules, "NFLOG") || !strings.Contains(rules, "DROP") {
		t.Errorf("after SIGTERM, NFLOG rules must go and DROP rules stay:\n%s", rules)
	}
	if w.open(none, p.ServerV4, 2223) {
		t.Errorf("a protected port is open while the server is stopped")
	}
	w.startServer()
	after := p.MustRun(t, p.Server, "iptables", "-S", "OTPKNOCK")
	// Two NFLOG rules per protocol: armed elements, tracked sources.
	if strings.Count(after, "-A OTPKNOCK") != strings.Count(rules, "-A OTPKNOCK")+4 || strings.Count(after, "-j NFLOG") != 4 {
		t.Errorf("rules after restart:\n%s\nbefore (without the 4 NFLOG rules):\n%s", after, rules)
	}
	if n := strings.Count(p.MustRun(t, p.Server, "iptables", "-S", "INPUT"), "-j OTPKNOCK"); n != 1 {
		t.Errorf("%d INPUT jumps after restart", n)
	}
	bob, _, err := w.knock("bob", 2223)
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	w.stopServer(syscall.SIGTERM)
	w.startServer()
	w.sendFrom(p.ClientV4, bob)
	w.waitLog("msg=replay src=198.18.0.2 user=bob")

	// kill -9: the grant still expires on time.
	_, grantedAt, err = w.knock("dave", 2225)
	if err != nil {
		t.Fatalf("dave: %v", err)
	}
	w.stopServer(syscall.SIGKILL)
	closedAfter = w.closesAfter(grantedAt, 2225)
	if closedAfter < 2*time.Second || closedAfter > 4*time.Second {
		t.Errorf("after kill -9 the grant closed %v after opening, want 3s +- 1s", closedAfter)
	}
}

// TestServerChecks: without privileges the server stops at once with
// one line and exit code 2; --dry-run needs none.
func TestServerChecks(t *testing.T) {
	netnstest.Require(t, "setpriv")
	dir, err := os.MkdirTemp("", "otpknock-checks-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	cfg := filepath.Join(dir, "config.yaml")
	if out, err := exec.Command(bins.Server, "init", "-c", cfg, "--server-id", "gw1", "--state-file", filepath.Join(dir, "state.json")).CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	os.Chown(cfg, nobody, nobody)
	cmd := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", bins.Server, "server", "-c", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("unprivileged server: %v, want exit 2", err)
	}
	if !strings.Contains(stderr.String(), "needs root or CAP_NET_ADMIN") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("stderr %q: want one line naming root or CAP_NET_ADMIN", stderr.String())
	}
	cmd = exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", bins.Server, "server", "-c", cfg, "--check")
	checkOut, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(string(checkOut), "needs root or CAP_NET_ADMIN") != 1 ||
		!strings.HasSuffix(string(checkOut), "FAIL the server needs root or CAP_NET_ADMIN (for iptables, ipset and NFLOG): the checks stop here, before the firewall and NFLOG (run --check with sudo)\n") {
		t.Errorf("--check as nobody: %v, want exit 2 and a last FAIL line naming root or CAP_NET_ADMIN once\n%s", err, checkOut)
	}
	for _, sub := range []string{"status", "remove", "lock"} {
		cmd := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", bins.Server, "firewall", sub, "-c", cfg)
		out, err := cmd.CombinedOutput()
		want := "otpknockd: firewall " + sub + " needs root or CAP_NET_ADMIN (run it with sudo)\n"
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || string(out) != want {
			t.Errorf("firewall %s as nobody: %v, want exit 2 and %q alone:\n%s", sub, err, want, out)
		}
	}
	out, err := exec.Command("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", bins.Server, "server", "-c", cfg, "--dry-run").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-j NFLOG --nflog-group 4711") || !strings.Contains(string(out), "\n# without root or CAP_NET_ADMIN auto cannot look at this host's firewall") {
		t.Errorf("--dry-run as nobody: %v\n%s", err, out)
	}
}
