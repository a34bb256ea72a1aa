//go:build linux

package attack

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/internal/packettest"
	"golang.org/x/sys/unix"
)

var bin string

func TestMain(m *testing.M) { os.Exit(netnstest.RunWithBinary(m, &bin)) }

// program is the binary that runs args: otpknockd the server's commands.
func program(args []string) string {
	if len(args) > 0 && slices.Contains([]string{"init", "user", "server", "firewall"}, args[0]) {
		return netnstest.ServerBinary(bin)
	}
	return bin
}

// scale returns ci in the bounded run and full under make adversarial.
func scale(ci, full int) int {
	if os.Getenv("OTPKNOCK_ADVERSARIAL") == "full" {
		return full
	}
	return ci
}

var reportMu sync.Mutex

// figure logs a row's figure and appends it to $OTPKNOCK_REPORT.
func figure(t *testing.T, row, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	t.Logf("%s: %s", row, msg)
	path := os.Getenv("OTPKNOCK_REPORT")
	if path == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "| %s | %s |\n", row, msg)
}

// user is a provisioned user with its secret.
type user struct {
	name   string
	secret []byte
}

// arena is the lab with a configured server and client profiles.
type arena struct {
	t      *testing.T
	l      *netnstest.Lab
	dir    string
	cfg    *config.Config
	store  string
	users  []user
	server *exec.Cmd
	log    *netnstest.Buffer
	rot    int // knockRounds' next user
	// logBase is what the firewall had logged when the server last
	// started: the daemon's counters start from zero (see seen).
	logBase int
}

// newArena provisions n users opening tcp/2222 (the last one source-
// bound), imports them as client profiles, and starts the server.
func newArena(t *testing.T, n int, edit func(string) string) *arena {
	netnstest.Require(t, "iptables", "ip6tables")
	a := &arena{t: t, l: netnstest.NewLab(t), dir: t.TempDir()}
	path := filepath.Join(a.dir, "config.yaml")
	a.run("", "init", "-c", path, "--server-id", "lab", "--host", "198.18.1.1", "--state-file", filepath.Join(a.dir, "state.json"))
	data, _ := os.ReadFile(path)
	// The figures of ADVERSARIAL.md are the iptables backend's; the tests
	// also read its ipsets and counters and insert iptables drops on the
	// server. The metrics tell what the daemon read (counts).
	text := strings.NewReplacer("step: 30s", "step: 2s", "open_timeout: 30s", "open_timeout: 3s", "firewall: auto", "firewall: iptables",
		`metrics_listen: ""`, "metrics_listen: "+metricsAddr).Replace(string(data))
	if edit != nil {
		text = edit(text)
	}
	os.WriteFile(path, []byte(text), 0o600)
	a.store = filepath.Join(a.dir, "client", "client.yaml")
	for i := range n {
		name := fmt.Sprintf("u%d", i)
		// tcp/2222 is every user's; tcp/3000+i is u<i>'s own, so a probe
		// there shows whether this user's knock opened it.
		args := []string{"user", "add", name, "-c", path, "--open", fmt.Sprintf("tcp/2222,tcp/%d", 3000+i), "--no-qr"}
		if i == n-1 {
			args = append(args, "--bind-source")
		}
		uri := regexp.MustCompile(`otpauth://\S+`).FindString(a.run("", args...))
		cmd := exec.Command(bin, "import", "-", "--name", name)
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+a.store)
		cmd.Stdin = strings.NewReader(uri)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
	}
	var err error
	if a.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	for _, u := range a.cfg.Users {
		s, err := a.cfg.ReadSecret(u.Name)
		if err != nil {
			t.Fatal(err)
		}
		a.users = append(a.users, user{u.Name, s})
	}
	go netnstest.AcceptAll(a.l.Listen(t, a.l.Server, "tcp", "[::]:2222"))
	for i := range n {
		go netnstest.AcceptAll(a.l.Listen(t, a.l.Server, "tcp", fmt.Sprintf("[::]:%d", 3000+i)))
	}
	a.start()
	t.Cleanup(func() { a.kill() })
	return a
}

func (a *arena) run(ns string, args ...string) string {
	a.t.Helper()
	var cmd *exec.Cmd
	if ns == "" {
		cmd = exec.Command(program(args), args...)
	} else {
		cmd = a.l.Cmd(ns, append([]string{program(args)}, args...)...)
	}
	cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+a.store)
	out, err := cmd.CombinedOutput()
	if err != nil {
		a.t.Fatalf("otpknock %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (a *arena) start() {
	a.t.Helper()
	a.log = &netnstest.Buffer{}
	a.server = a.l.Cmd(a.l.Server, netnstest.ServerBinary(bin), "server", "-c", a.cfg.Path)
	a.server.Stderr = a.log
	if err := a.server.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.waitLog("msg=started", 10*time.Second)
	a.logBase = a.firewallCounts().logged
}

func (a *arena) kill() {
	if a.server != nil && a.server.ProcessState == nil {
		a.server.Process.Kill()
		a.server.Wait()
	}
}

func (a *arena) waitLog(s string, d time.Duration) bool {
	a.t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(a.log.String(), s) {
			return true
		}
	}
	return false
}

// grants counts the grant lines for src.
func (a *arena) grants(src string) int {
	return strings.Count(a.log.String(), "msg=grant src="+src+" ")
}

// control is the positive control of the tests that assert no grant:
// the client knocks once with the real client and the server must log
// a grant for it that grants recognises, so a renamed log key or a
// broken server cannot pass for "nothing opened".
func (a *arena) control() {
	a.t.Helper()
	client := a.l.ClientV4.String()
	before := a.grants(client)
	ok := a.knockRounds(a.l.Client, client, 1, "--retries", "1")
	// One knock with one retry: a first grant whose door the client did
	// not see open in time (a loaded machine) is followed by a second.
	if after := a.grants(client); ok != 1 || after < before+1 || after > before+2 {
		a.t.Errorf("positive control: the client's knock opened %d of 1, grant lines for %s went from %d to %d, want one or two more", ok, client, before, after)
	}
}

// send knocks with the real client as profile name; it returns whether
// the service answered.
func (a *arena) send(ns, name string, extra ...string) (bool, string) {
	cmd := a.l.Cmd(ns, append([]string{bin, "send", name, "-v", "--wait=tcp/2222,2s", "--stun", "none"}, extra...)...)
	cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+a.store)
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

var knockRE = regexp.MustCompile(`knock \d+/\d+ (\S+)\s+-> \S+ \(step (\d+)`)

// sent parses the knocks and step of a send -v output.
func sent(out string) ([]derive.Knock, uint64) {
	var ks []derive.Knock
	var step uint64
	for _, m := range knockRE.FindAllStringSubmatch(out, -1) {
		k, _ := derive.ParseKnock(m[1])
		ks = append(ks, k)
		step, _ = strconv.ParseUint(m[2], 10, 64)
	}
	return ks, step
}

// seqOf derives u's sequence for step (src only for bound users).
func (a *arena) seqOf(u user, step uint64, src netip.Addr) []derive.Knock {
	ks, err := derive.Sequence(u.secret, a.cfg.ServerID, a.cfg.Params, step, src)
	if err != nil {
		a.t.Fatal(err)
	}
	return ks
}

// nextStep sleeps until just after the next step begins.
func (a *arena) nextStep() {
	time.Sleep(derive.Left(time.Now(), a.cfg.Params.Period) + 20*time.Millisecond)
}

func (a *arena) step() uint64 { return derive.Step(time.Now(), a.cfg.Params.Period) }

// waitFreshStep sleeps into the next step when less than need is left.
func (a *arena) waitFreshStep(need time.Duration) {
	if left := derive.Left(time.Now(), a.cfg.Params.Period); left < need {
		time.Sleep(left + 20*time.Millisecond)
	}
}

// raw sends hand-built IPv4 packets (any source address) from the
// namespace it was opened in.
type raw struct{ fd int }

func openRaw(t *testing.T, l *netnstest.Lab, ns string) *raw {
	var fd int
	var err error
	l.Do(t, ns, func() { fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &raw{fd: fd}
}

// send sends knock k from src to dst as a TCP SYN, a UDP datagram or an
// ICMP echo request.
func (r *raw) send(src, dst netip.Addr, k derive.Knock) error {
	return r.packet(packettest.Knock(src, dst, k))
}

func (r *raw) packet(b []byte) error {
	d := [4]byte(b[16:20])
	return unix.Sendto(r.fd, b, 0, &unix.SockaddrInet4{Addr: d})
}

// require needs root, namespaces, iptables and the given tools.
func require(t *testing.T, tools ...string) {
	t.Helper()
	netnstest.Require(t, append([]string{"iptables"}, tools...)...)
}
