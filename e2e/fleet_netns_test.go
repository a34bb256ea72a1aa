package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/sender"
)

// The pool: three members behind a load balancer that DNATs the pool's
// address to a member chosen at random for each new flow (nftables
// numgen random), and a NATS server with JetStream beside them.
//
//	client 198.18.4.2 ── lb 198.18.4.254 | 198.18.3.254 ── bridge ── m1 198.18.3.1
//	                      DNAT 198.18.5.1 -> random member             ├─ m2 198.18.3.2
//	                                                                   ├─ m3 198.18.3.3
//	                                                                   └─ nats 198.18.3.100
var (
	poolVIP    = netip.MustParseAddr("198.18.5.1")
	poolClient = netip.MustParseAddr("198.18.4.2")
)

// natsAddr is NATS node k's address (198.18.3.100 + k).
func natsAddr(k int) string { return fmt.Sprintf("198.18.3.%d", 100+k) }

const poolUsers = 20

type poolWorld struct {
	t           testing.TB
	p           *netnstest.Pair // Cmd, MustRun, Do, Listen on any namespace
	lb, cli     string
	nats        []string // namespaces of the NATS nodes
	members     []string // namespaces m1..m3
	addrs       []netip.Addr
	dir         string
	store       string   // the client's profiles
	cfgs        []string // the members' configs
	memberProcs []*exec.Cmd
	adminKey    string
	adminCfg    string              // the admin host's config; "": m1's
	accts       []provision.Account // the enrolled users, u0 on
	logs        []*netnstest.Buffer
	procs       []*exec.Cmd
}

var poolSeq atomic.Int32

func (w *poolWorld) ns(role string) string {
	return fmt.Sprintf("otpk-%d-f%d-%s", os.Getpid(), poolSeq.Load(), role)
}

// link joins namespaces a and b with a veth pair an/bn, both up.
func (w *poolWorld) link(a, an, b, bn string) {
	w.t.Helper()
	if out, err := exec.Command("ip", "link", "add", an, "netns", a, "type", "veth", "peer", "name", bn, "netns", b).CombinedOutput(); err != nil {
		w.t.Fatalf("veth %s-%s: %v\n%s", an, bn, err, out)
	}
	w.p.MustRun(w.t, a, "ip", "link", "set", an, "up")
	w.p.MustRun(w.t, b, "ip", "link", "set", bn, "up")
}

func newPoolWorld(t testing.TB, natsNodes int) *poolWorld {
	netnstest.Require(t, "nft", "nats-server")
	poolSeq.Add(1)
	w := &poolWorld{t: t, p: &netnstest.Pair{}, dir: t.TempDir()}
	w.lb, w.cli = w.ns("lb"), w.ns("cli")
	for k := range natsNodes {
		w.nats = append(w.nats, w.ns(fmt.Sprintf("nats%d", k+1)))
	}
	w.store = filepath.Join(w.dir, "client", "client.yaml")
	for i := range 3 {
		w.members = append(w.members, w.ns(fmt.Sprintf("m%d", i+1)))
		w.addrs = append(w.addrs, netip.MustParseAddr(fmt.Sprintf("198.18.3.%d", i+1)))
	}
	for _, ns := range append(append([]string{w.lb, w.cli}, w.nats...), w.members...) {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("netns %s: %v\n%s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		w.p.MustRun(t, ns, "ip", "link", "set", "lo", "up")
	}
	w.link(w.cli, "veth0", w.lb, "cli")
	w.p.MustRun(t, w.cli, "ip", "addr", "add", poolClient.String()+"/24", "dev", "veth0")
	w.p.MustRun(t, w.cli, "ip", "route", "add", "default", "via", "198.18.4.254")
	w.p.MustRun(t, w.lb, "ip", "addr", "add", "198.18.4.254/24", "dev", "cli")
	w.p.MustRun(t, w.lb, "ip", "link", "add", "pool", "type", "bridge")
	w.p.MustRun(t, w.lb, "ip", "link", "set", "pool", "up")
	w.p.MustRun(t, w.lb, "ip", "addr", "add", "198.18.3.254/24", "dev", "pool")
	hosts := append(append([]string{}, w.members...), w.nats...)
	for i, ns := range hosts {
		port := fmt.Sprintf("p%d", i)
		w.link(ns, "veth0", w.lb, port)
		w.p.MustRun(t, w.lb, "ip", "link", "set", port, "master", "pool")
		addr := w.addrs[min(i, 2)].String() + "/24"
		if i >= 3 {
			addr = natsAddr(i-3) + "/24"
		}
		w.p.MustRun(t, ns, "ip", "addr", "add", addr, "dev", "veth0")
		w.p.MustRun(t, ns, "ip", "route", "add", "default", "via", "198.18.3.254")
	}
	w.p.MustRun(t, w.lb, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	w.balance(w.addrs...)
	t.Cleanup(func() {
		for _, c := range w.procs {
			if c.ProcessState == nil {
				c.Process.Kill()
				c.Wait()
			}
		}
	})
	return w
}

// balance has the load balancer spread new flows to the pool's address
// over backends, at random (nftables numgen random).
func (w *poolWorld) balance(backends ...netip.Addr) {
	w.t.Helper()
	var m []string
	for i, b := range backends {
		m = append(m, fmt.Sprintf("%d : %s", i, b))
	}
	rules := fmt.Sprintf(`table ip lb {
  chain pre {
    type nat hook prerouting priority -100;
    ip daddr %s dnat to numgen random mod %d map { %s }
  }
}
`, poolVIP, len(backends), strings.Join(m, ", "))
	w.p.Cmd(w.lb, "nft", "delete", "table", "ip", "lb").Run() // absent the first time
	cmd := w.p.Cmd(w.lb, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("nft: %v\n%s", err, out)
	}
}

// startCmd runs a long-lived command in ns, its output in a buffer.
func (w *poolWorld) startCmd(ns string, args ...string) (*exec.Cmd, *netnstest.Buffer) {
	w.t.Helper()
	log := &netnstest.Buffer{}
	c := w.p.Cmd(ns, args...)
	c.Stdout, c.Stderr = log, log
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.procs = append(w.procs, c)
	return c, log
}

func waitText(t testing.TB, log *netnstest.Buffer, s string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); !strings.Contains(log.String(), s); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never logged %q:\n%s", s, log)
		}
	}
}

// startNATS runs Debian's nats-server with JetStream on each NATS node,
// clustered when there are several.
func (w *poolWorld) startNATS() {
	var logs []*netnstest.Buffer
	for k := range w.nats {
		_, log := w.startNATSNode(k)
		logs = append(logs, log)
	}
	if len(logs) == 1 {
		return
	}
	// JetStream answers once the cluster has a metadata leader.
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		for _, l := range logs {
			if strings.Contains(l.String(), "new metadata leader") || strings.Contains(l.String(), "JetStream cluster new meta leader") {
				return
			}
		}
		if time.Now().After(end) {
			w.t.Fatalf("the NATS cluster elected no JetStream leader:\n%s", logs[0])
		}
	}
}

// startNATSNode starts node k (again, after a stop: its store stays).
func (w *poolWorld) startNATSNode(k int) (*exec.Cmd, *netnstest.Buffer) {
	w.t.Helper()
	conf := filepath.Join(w.dir, fmt.Sprintf("nats%d.conf", k+1))
	text := fmt.Sprintf("server_name: n%d\nlisten: \"%s:4222\"\njetstream { store_dir: %q }\n", k+1, natsAddr(k), filepath.Join(w.dir, fmt.Sprintf("js%d", k+1)))
	if len(w.nats) > 1 {
		var routes []string
		for j := range w.nats {
			routes = append(routes, fmt.Sprintf("nats-route://%s:6222", natsAddr(j)))
		}
		text += fmt.Sprintf("cluster { name: otpknock, listen: \"%s:6222\", routes: [%s] }\n", natsAddr(k), strings.Join(routes, ", "))
	}
	os.WriteFile(conf, []byte(text), 0o600)
	c, log := w.startCmd(w.nats[k], "nats-server", "-c", conf)
	waitText(w.t, log, "Server is ready", 10*time.Second)
	return c, log
}

// servers is the NATS URL list of the members' configs.
func (w *poolWorld) servers() string {
	var us []string
	for k := range w.nats {
		us = append(us, fmt.Sprintf("nats://%s:4222", natsAddr(k)))
	}
	return strings.Join(us, ", ")
}

// memberConfig writes member i's config: identity the pool's address,
// the fleet on the pool's NATS, nftables.
func (w *poolWorld) memberConfig(i int, adminKey string) string {
	w.t.Helper()
	dir := filepath.Join(w.dir, fmt.Sprintf("m%d", i+1))
	cfg := filepath.Join(dir, "config.yaml")
	w.p.MustRun(w.t, w.members[i], bins.Server, "init", "-c", cfg, "--server-id", fmt.Sprintf("m%d", i+1), "--host", poolVIP.String(),
		"--state-file", filepath.Join(dir, "state", "state.json"))
	data, _ := os.ReadFile(cfg)
	data = []byte(strings.Replace(string(data), "firewall: auto", "firewall: nftables", 1))
	data = append(data, fmt.Sprintf("fleet:\n  id: acme\n  servers: [%s]\n  replicas: %d\n  insecure: true\n  %s\n", w.servers(), len(w.nats), adminKey)...)
	os.WriteFile(cfg, data, 0o600)
	return cfg
}

// dial reports whether a TCP connection from the client to dst:port
// succeeds.
func (w *poolWorld) dial(dst netip.Addr, port uint16) bool {
	return w.dialWithin(dst, port, 300*time.Millisecond)
}

// dialWithin is dial with a timeout: past a second the kernel resends
// the SYN once, on the same flow (the same member), as a connecting
// program's does.
func (w *poolWorld) dialWithin(dst netip.Addr, port uint16, timeout time.Duration) bool {
	var err error
	w.p.Do(w.t, w.cli, func() {
		var c net.Conn
		if c, err = (&net.Dialer{Timeout: timeout}).Dial("tcp", netip.AddrPortFrom(dst, port).String()); err == nil {
			c.Close()
		}
	})
	return err == nil
}

func (w *poolWorld) client(stdin string, args ...string) string {
	w.t.Helper()
	c := w.p.Cmd(w.cli, append([]string{bins.Client}, args...)...)
	c.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
	c.Stdin = strings.NewReader(stdin)
	out, err := c.CombinedOutput()
	if err != nil {
		w.t.Fatalf("otpknock %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPoolBehindLoadBalancer: 20 packet knocks to the pool's address,
// each landing on a random member, each followed by a connect that
// lands on a random member: 20/20 open, and every member holds every
// grant. The same packet re-sent to the other members after its grant
// opens nothing new and is logged as a replay. A user removed from the
// admin host is refused by every member 2 s later, and still after its
// old records are put back into the store (tombstones deleted): each
// member refuses them as stale. A user enrolled with --grant-prefix 24
// knocks one member: a connection from another address of the client's
// /24 reaches the service on every member.
func TestPoolBehindLoadBalancer(t *testing.T) {
	w := newPoolWorld(t, 1)
	w.startNATS()
	w.startPool(poolUsers + 1)
	accts := w.accts

	opened := w.knockAll(poolUsers, 300*time.Millisecond)
	t.Logf("knocks through the load balancer: %d/%d open", opened, poolUsers)
	if opened != poolUsers {
		t.Errorf("opened %d/%d through the load balancer", opened, poolUsers)
	}
	held := 0
	for i, a := range w.addrs {
		for u := range poolUsers {
			if w.dial(a, uint16(2300+u)) {
				held++
			} else {
				t.Errorf("member m%d does not hold u%d's grant", i+1, u)
			}
		}
	}
	t.Logf("grants held: %d/%d (every member, every knock)", held, 3*poolUsers)
	var landed []string
	pool, first := 0, 0
	for i := range w.members {
		n := strings.Count(w.logs[i].String(), "msg=grant ")
		landed = append(landed, fmt.Sprintf("m%d %d", i+1, n))
		first += n
		pool += strings.Count(w.logs[i].String(), `msg="pool grant"`)
	}
	t.Logf("knocks granted first by: %s; pool grants applied: %d", strings.Join(landed, ", "), pool)
	// A knock that started in a step's last 0.5 s may be granted twice,
	// its next step's packet following it (spec 11.7); every grant is
	// applied on the two other members.
	if first < poolUsers || first > poolUsers+poolUsers/4 || pool != 2*first {
		t.Errorf("grants: %d first, %d pool; want %d or a few more first, each applied on the two other members", first, pool, poolUsers)
	}
	w.logFanout()

	// The same packet to each member in turn: m1 grants, m2 and m3 refuse it.
	step := derive.Step(time.Now(), accts[0].Params.Period)
	el, payload := sealFor(t, accts[poolUsers], step)
	grant := fmt.Sprintf("msg=grant src=%s user=u%d", poolClient, poolUsers)
	for i, a := range w.addrs {
		w.sendPayload(a, el, payload)
		if i == 0 {
			waitText(t, w.logs[0], grant, 3*time.Second)
			continue
		}
		waitText(t, w.logs[i], fmt.Sprintf("msg=replay src=%s user=u%d", poolClient, poolUsers), 3*time.Second)
		if strings.Contains(w.logs[i].String(), grant) {
			t.Errorf("member m%d granted the re-sent packet:\n%s", i+1, w.logs[i])
		}
	}

	// user remove from the admin host: 2 s later every member refuses
	// the user's knock in a fresh step, and still grants another user's.
	old := w.records("u19") // what someone who can write the store keeps, to put back
	w.admin("user", "remove", "u19", "--yes")
	time.Sleep(2 * time.Second)
	next := derive.Step(time.Now(), accts[0].Params.Period) + 1 // inside the window, used by nobody
	// A member that still knew u19 would log its knock of step next: a
	// grant, a replay, or a pool grant. None may.
	seen := fmt.Sprintf("user=u19 step=%d", next)
	for _, a := range w.addrs {
		el, payload := sealFor(t, accts[19], next)
		w.sendPayload(a, el, payload)
	}
	el, payload = sealFor(t, accts[18], next) // the control: a user still enrolled
	w.sendPayload(w.addrs[0], el, payload)
	waitText(t, w.logs[0], fmt.Sprintf("msg=grant src=%s user=u18 step=%d", poolClient, next), 3*time.Second)
	time.Sleep(200 * time.Millisecond) // the members' handling of u19's packets, sent before the control
	for i := range w.members {
		if strings.Contains(w.logs[i].String(), seen) {
			t.Errorf("member m%d still knows u19 2 s after its removal:\n%s", i+1, w.logs[i])
		}
	}
	w.putBack(t, old)
	w.ed25519User(t)
	w.prefixUser(t)
}

// records returns the store's records of user, read over NATS from the
// admin host's namespace as anyone with the fleet's credentials can.
func (w *poolWorld) records(user string) []fleet.Record {
	w.t.Helper()
	var recs []fleet.Record
	w.withStore(func(s *fleet.JetStream) {
		all, err := s.Records(w.t.Context())
		if err != nil {
			w.t.Fatal(err)
		}
		for _, r := range all {
			if r.User == user {
				recs = append(recs, r)
			}
		}
	})
	if len(recs) != len(w.members) {
		w.t.Fatalf("%d records of %s in the store, want one per member", len(recs), user)
	}
	return recs
}

// withStore runs fn with a connection to the fleet's NATS made in the
// admin host's namespace.
func (w *poolWorld) withStore(fn func(*fleet.JetStream)) {
	w.t.Helper()
	var s *fleet.JetStream
	w.p.Do(w.t, w.lb, func() {
		var err error
		s, err = fleet.Dial(fleet.Options{URLs: strings.Split(w.servers(), ", "), Fleet: "acme", Name: "e2e store writer", Insecure: true})
		if err != nil {
			w.t.Fatal(err)
		}
	})
	defer s.Close()
	fn(s)
}

// putBack writes the removed user's old records back into the store,
// having deleted the tombstones: every member refuses them as stale and
// refuses the user's knock, while another user's still opens.
func (w *poolWorld) putBack(t *testing.T, old []fleet.Record) {
	user := old[0].User
	w.withStore(func(s *fleet.JetStream) {
		if err := s.DeleteUser(t.Context(), user); err != nil {
			t.Fatal(err)
		}
		for _, r := range old {
			if err := s.PutRecord(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
	})
	for i := range w.members {
		waitText(t, w.logs[i], "refused a stale record", 3*time.Second)
	}
	u, _ := strconv.Atoi(strings.TrimPrefix(user, "u"))
	step := derive.Step(time.Now(), w.accts[0].Params.Period) + 1
	for _, a := range w.addrs {
		el, payload := sealFor(t, w.accts[u], step)
		w.sendPayload(a, el, payload)
	}
	el, payload := sealFor(t, w.accts[u-2], step) // the control: a user still enrolled
	w.sendPayload(w.addrs[1], el, payload)
	waitText(t, w.logs[1], fmt.Sprintf("msg=grant src=%s user=u%d step=%d", poolClient, u-2, step), 3*time.Second)
	time.Sleep(200 * time.Millisecond)
	seen := fmt.Sprintf("user=%s step=%d", user, step)
	for i := range w.members {
		if strings.Contains(w.logs[i].String(), seen) {
			t.Errorf("member m%d took back %s from its old record put back into the store:\n%s", i+1, user, w.logs[i])
		}
	}
	t.Logf("%s's old records put back after its removal: refused as stale by all %d members", user, len(w.members))
}

// ed25519User enrolls an ed25519 user from the admin host (the pair made
// there, its private key in the URI only): 2 s later its signed knock
// through the load balancer opens on every member, and no file the
// members or the admin host keep holds the private key.
func (w *poolWorld) ed25519User(t *testing.T) {
	port := uint16(2300 + poolUsers + 1)
	out := w.admin("user", "add", "sig", "--auth", "ed25519", "--generate", "--open", fmt.Sprintf("tcp/%d", port), "--no-qr")
	acct, err := provision.ParseURI(regexp.MustCompile(`otpauth://\S+`).FindString(out))
	if err != nil || acct.PrivateKey == nil {
		t.Fatalf("ed25519 user add: %v, private key in the URI %v\n%s", err, acct.PrivateKey != nil, out)
	}
	time.Sleep(2 * time.Second)
	loc, id, err := acct.KeyFor(poolVIP.String())
	if err != nil {
		t.Fatal(err)
	}
	sd, err := derive.NewSigPacket(loc, nil, id, acct.Params)
	if err != nil {
		t.Fatal(err)
	}
	step := derive.Step(time.Now(), acct.Params.Period)
	nonce := make([]byte, derive.NonceSize)
	rand.Read(nonce)
	payload, err := sd.Seal(nil, acct.PrivateKey, step, nonce, derive.Claim{Addrs: []netip.Addr{poolClient}}, netip.Addr{}, derive.PayloadMin)
	if err != nil {
		t.Fatal(err)
	}
	el, _ := sd.Knock(step)
	if w.dial(poolVIP, port) {
		t.Fatal("the ed25519 user's port is open before its knock")
	}
	w.sendPayload(poolVIP, el, payload)
	time.Sleep(100 * time.Millisecond)
	if !w.dialWithin(poolVIP, port, 300*time.Millisecond) {
		t.Errorf("the ed25519 user's knock did not open through the load balancer")
	}
	for i, a := range w.addrs {
		if !w.dial(a, port) {
			t.Errorf("member m%d does not hold the ed25519 user's grant", i+1)
		}
	}
	seed := derive.EncodeSecret(acct.PrivateKey.Seed())
	filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(path); strings.Contains(string(b), seed) || bytes.Contains(b, acct.PrivateKey.Seed()) {
			t.Errorf("%s holds the ed25519 user's private key", path)
		}
		return nil
	})
}

// prefixUser enrolls a packet user with --grant-prefix 24 from the
// admin host and, once every member applied it, knocks member m1
// directly, claiming the client's address: m1 grants the /24 around it
// and the two other members apply the same /24 from the fan-out, so a
// connection from another address of the client's /24 (198.18.4.3),
// closed before the knock, reaches the service on every member and
// through the load balancer.
func (w *poolWorld) prefixUser(t *testing.T) {
	port := uint16(2300 + poolUsers + 2)
	var before []int
	for _, l := range w.logs {
		before = append(before, len(l.String()))
	}
	out := w.admin("user", "add", "cgn", "--knock", "packet", "--grant-prefix", "24", "--open", fmt.Sprintf("tcp/%d", port), "--no-qr")
	if !strings.Contains(out, "grants open /24,/128 around the address") {
		t.Errorf("user add --grant-prefix does not say what the grants open:\n%s", out)
	}
	acct, err := provision.ParseURI(regexp.MustCompile(`otpauth://\S+`).FindString(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i, l := range w.logs {
		for end := time.Now().Add(3 * time.Second); !strings.Contains(l.String()[before[i]:], `msg="fleet: users applied"`); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("member m%d did not apply cgn within 3 s:\n%s", i+1, l)
			}
		}
	}
	other := netip.MustParseAddr("198.18.4.3") // the client's /24, not the address it claims
	w.p.MustRun(t, w.cli, "ip", "addr", "add", other.String()+"/24", "dev", "veth0")
	if w.dialFrom(other, w.addrs[1], port) {
		t.Fatal("cgn's port is open from 198.18.4.3 before its knock")
	}
	el, payload := sealFor(t, acct, derive.Step(time.Now(), acct.Params.Period))
	w.sendPayload(w.addrs[0], el, payload)
	waitText(t, w.logs[0], fmt.Sprintf("msg=grant src=%s user=cgn", poolClient), 3*time.Second)
	if !regexp.MustCompile(`msg=grant src=198\.18\.4\.2 user=cgn .*prefix=198\.18\.4\.0/24`).MatchString(w.logs[0].String()) {
		t.Errorf("m1's grant line does not name the /24:\n%s", w.logs[0])
	}
	for i := 1; i < len(w.members); i++ {
		waitText(t, w.logs[i], `msg="pool grant" member=m1 user=cgn`, 3*time.Second)
		if !regexp.MustCompile(`msg="pool grant" member=m1 user=cgn .*prefix=198\.18\.4\.0/24`).MatchString(w.logs[i].String()) {
			t.Errorf("m%d's pool grant line does not name the /24:\n%s", i+1, w.logs[i])
		}
	}
	for i, a := range w.addrs {
		if !w.dialFrom(other, a, port) {
			t.Errorf("a connection from 198.18.4.3 does not reach cgn's service on m%d", i+1)
		}
	}
	if !w.dialFrom(other, poolVIP, port) {
		t.Error("a connection from 198.18.4.3 does not reach cgn's service through the load balancer")
	}
}

// dialFrom is dial from the client's address src.
func (w *poolWorld) dialFrom(src, dst netip.Addr, port uint16) bool {
	var err error
	w.p.Do(w.t, w.cli, func() {
		d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
		var c net.Conn
		if c, err = d.Dial("tcp", netip.AddrPortFrom(dst, port).String()); err == nil {
			c.Close()
		}
	})
	return err == nil
}

// startPool starts the members (each serving ports 2300 on, two past
// the users' for users enrolled later), has the admin host enroll users
// u0..u{n-1} (packet knocks, u opens 2300+u), imports them into the
// client, and waits until every member holds them.
func (w *poolWorld) startPool(n int) {
	w.t.Helper()
	w.startMembers(n + 2)
	for u := range n {
		w.enroll(u)
	}
	for i := range w.members {
		waitText(w.t, w.logs[i], fmt.Sprintf(`msg="fleet: users applied" users=%d`, n), 5*time.Second)
	}
}

// startMembers makes the admin key and the fleet's buckets, starts the
// members (each serving ports 2300 to 2300+ports-1) and waits until all
// three registered.
func (w *poolWorld) startMembers(ports int) {
	t := w.t
	t.Helper()
	w.adminKey = filepath.Join(w.dir, "admin", "admin.key")
	line := regexp.MustCompile(`admin_key: \S+`).FindString(w.p.MustRun(t, w.lb, bins.Server, "fleet", "admin-key", "--admin-key", w.adminKey))
	for i := range w.members {
		w.cfgs = append(w.cfgs, w.memberConfig(i, line))
	}
	w.admin("fleet", "init")
	for i := range w.members {
		for u := range ports {
			go netnstest.AcceptAll(w.p.Listen(t, w.members[i], "tcp", fmt.Sprintf("[::]:%d", 2300+u)))
		}
		c, log := w.startCmd(w.members[i], bins.Server, "server", "-c", w.cfgs[i])
		w.memberProcs = append(w.memberProcs, c)
		w.logs = append(w.logs, log)
		waitText(t, w.logs[i], "msg=started", 20*time.Second)
	}
	if out := w.admin("fleet", "members"); strings.Count(out, poolVIP.String()) != 3 {
		t.Fatalf("fleet members: want 3 with identity %s:\n%s", poolVIP, out)
	}
}

// admin runs otpknockd ARGS... (fleet or user commands) on the admin
// host (the load balancer's namespace, which reaches NATS), with the
// fleet's config, admin key and enrollments.
func (w *poolWorld) admin(args ...string) string {
	w.t.Helper()
	return w.p.MustRun(w.t, w.lb, append(append([]string{bins.Server}, args...), w.adminFlags()...)...)
}

// adminFlags are the admin host's fleet flags.
func (w *poolWorld) adminFlags() []string {
	cfg := w.adminCfg
	if cfg == "" {
		cfg = w.cfgs[0]
	}
	return []string{"--config", cfg, "--admin-key", w.adminKey, "--enrollments", filepath.Join(w.dir, "admin", "enrollments")}
}

// enroll adds user u (packet knocks, tcp/2300+u) and imports it into the
// client as profile u<u>.
func (w *poolWorld) enroll(u int) {
	w.t.Helper()
	if out, err := w.tryEnroll(u); err != nil {
		w.t.Fatalf("user add u%d: %v\n%s", u, err, out)
	}
}

// tryEnroll is enroll, returning the admin command's failure.
func (w *poolWorld) tryEnroll(u int) (string, error) {
	w.t.Helper()
	out, uri, err := w.addUser(u, 2300+u)
	if err != nil {
		return out, err
	}
	w.client(uri, "import", "-", "--name", fmt.Sprintf("u%d", u))
	return out, nil
}

// addUser has the admin host add user u (packet knocks, opening
// tcp/port) to the fleet and keeps its account: the command's output and
// the URI.
func (w *poolWorld) addUser(u, port int) (string, string, error) {
	w.t.Helper()
	cmd := w.p.Cmd(w.lb, append([]string{bins.Server, "user", "add", fmt.Sprintf("u%d", u), "--open", fmt.Sprintf("tcp/%d", port),
		"--knock", "packet", "--no-qr"}, w.adminFlags()...)...)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		return out, "", err
	}
	uri := regexp.MustCompile(`otpauth://\S+`).FindString(out)
	acct, err := provision.ParseURI(uri)
	if err != nil {
		w.t.Fatalf("%v\n%s", err, out)
	}
	w.accts = append(w.accts, acct)
	return out, uri, nil
}

// knockAll knocks u0..u{n-1} through the load balancer, each followed,
// 100 ms later, by a connect through it that waits up to connect, and
// returns how many opened.
func (w *poolWorld) knockAll(n int, connect time.Duration) int {
	w.t.Helper()
	opened := 0
	for u := range n {
		port := uint16(2300 + u)
		if w.dial(poolVIP, port) {
			w.t.Fatalf("u%d's port %d open before its knock", u, port)
		}
		out := w.client("", "send", fmt.Sprintf("u%d", u))
		if !strings.Contains(out, "fleet profile u") {
			w.t.Errorf("send does not say which fleet profile it used:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
		if w.dialWithin(poolVIP, port, connect) {
			opened++
		}
	}
	return opened
}

// sealFor seals acct's packet knock to the pool for step, claiming the
// client's address: the element it goes to and the payload.
func sealFor(t testing.TB, acct provision.Account, step uint64) (derive.Knock, []byte) {
	t.Helper()
	return sealForHost(t, acct, poolVIP.String(), step)
}

// sealForHost is sealFor for the identity host (the pool's, or a
// member's outside it).
func sealForHost(t testing.TB, acct provision.Account, host string, step uint64) (derive.Knock, []byte) {
	t.Helper()
	key, id, err := acct.KeyFor(host)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := derive.NewPacket(key, id, acct.Params)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, derive.NonceSize)
	rand.Read(nonce)
	payload, err := pd.Seal(nil, step, nonce, derive.Claim{Addrs: []netip.Addr{poolClient}}, netip.Addr{}, 80)
	if err != nil {
		t.Fatal(err)
	}
	el, err := pd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	return el, payload
}

func (w *poolWorld) sendPayload(dst netip.Addr, el derive.Knock, payload []byte) {
	w.t.Helper()
	w.p.Do(w.t, w.cli, func() {
		if _, err := (&sender.Portable{}).WritePayload(context.Background(), dst, el, payload); err != nil {
			w.t.Fatal(err)
		}
	})
}

var fanoutRE = regexp.MustCompile(`msg="pool grant" .* fanout=(\S+)`)

// logFanout prints the fan-out latencies the members logged, from the
// granting member's grant to the other member's kernel set (nftables):
// "fan-out p50 N ms p99 N ms".
func (w *poolWorld) logFanout() {
	var lat []time.Duration
	for _, l := range w.logs {
		for _, m := range fanoutRE.FindAllStringSubmatch(l.String(), -1) {
			if d, err := time.ParseDuration(m[1]); err == nil {
				lat = append(lat, d)
			}
		}
	}
	if len(lat) == 0 {
		w.t.Error("no fan-out latency logged")
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	w.t.Logf("fan-out p50 %.2f ms p99 %.2f ms (%d pool grants, nats-server and nftables in namespaces)",
		ms(lat[len(lat)/2]), ms(lat[min(len(lat)-1, len(lat)*99/100)]), len(lat))
}

// TestPoolFailover: the pool on a 3-node NATS cluster (JetStream
// replicas 3). With one member and one NATS node stopped (the load
// balancer sending to the two members left), 20 knocks still open 20/20;
// a user enrolled meanwhile reaches the stopped member when it comes
// back with its NATS node, which then grants that user's knock.
func TestPoolFailover(t *testing.T) {
	w := newPoolWorld(t, 3)
	w.startNATS()
	w.startPool(poolUsers)

	w.memberProcs[2].Process.Signal(syscall.SIGTERM)
	w.memberProcs[2].Wait()
	nats3 := w.procs[2] // the NATS nodes started first
	nats3.Process.Kill()
	nats3.Wait()
	w.balance(w.addrs[0], w.addrs[1])
	// While JetStream elects new leaders (seconds), the first knock waits
	// for the store's timeout and the members grant locally: its connect
	// may need the SYN the kernel resends after a second.
	opened := w.knockAll(poolUsers, 1500*time.Millisecond)
	t.Logf("with m3 and NATS node 3 stopped: %d/%d open", opened, poolUsers)
	if opened != poolUsers {
		t.Errorf("opened %d/%d with a member and a NATS node down\nm1:\n%s\nm2:\n%s", opened, poolUsers, w.logs[0], w.logs[1])
	}
	// While m3 is down: sealed for it all the same. The admin command
	// may fail while JetStream moves leaders off the stopped node (it
	// leaves nothing behind); an operator runs it again.
	for try := 0; ; try++ {
		out, err := w.tryEnroll(poolUsers)
		if err == nil {
			break
		}
		if try == 30 {
			t.Fatalf("user add still failing 30 s after NATS node 3 stopped: %v\n%s", err, out)
		}
		t.Logf("user add: %v: %s", err, strings.TrimSpace(out))
		time.Sleep(time.Second)
	}

	_, natsLog := w.startNATSNode(2)
	// Grants published on the other nodes reach m3's subscription once
	// node 3's routes to them are up.
	for end := time.Now().Add(20 * time.Second); strings.Count(natsLog.String(), "Route connection created") < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("NATS node 3 did not rejoin the cluster:\n%s", natsLog)
		}
	}
	c, log := w.startCmd(w.members[2], bins.Server, "server", "-c", w.cfgs[2])
	w.memberProcs[2], w.logs[2] = c, log
	// It joins with the users (or, if JetStream is not answering yet,
	// from its last copy, then catches up): 21 users either way.
	waitText(t, log, fmt.Sprintf("users=%d", poolUsers+1), 30*time.Second)
	waitText(t, log, "msg=started", 10*time.Second) // its firewall logs knocks from now on
	// m3 holds u20's key: u20's knock sent to m3 itself is granted there.
	el, payload := sealFor(t, w.accts[poolUsers], derive.Step(time.Now(), w.accts[0].Params.Period))
	w.sendPayload(w.addrs[2], el, payload)
	waitText(t, log, fmt.Sprintf("msg=grant src=%s user=u%d", poolClient, poolUsers), 3*time.Second)
}
