package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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

	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// The guide's sections this test runs: the NATS servers' config and a
// member's fleet section, taken from docs/guide.md with only the host
// names, paths, password hash and admin key replaced.
const (
	guideFile        = "../docs/guide.md"
	guideNATSHeading = "### NATS: a 3-node cluster with JetStream replicas 3"
	guideMemberHead  = "### A member's config"
	tlsPassword      = "correct horse battery staple"
)

// m3Addr is the lone member's address and identity (m1 and m2 are the
// pool behind poolVIP).
var m3Addr = netip.MustParseAddr("198.18.3.3")

// TestFleetTLS runs the guide's fleet over TLS: a 3-node nats-server
// cluster (client TLS with verify, route TLS, JetStream, the guide's
// authorization: an admin user and one user per member, bcrypt'd
// passwords or, for m2, an nkey, each with the guide's permissions)
// from the guide's config, members m1 and m2 in a pool behind the load
// balancer and m3 alone, each with the guide's fleet section (tls://,
// tls_ca, tls_cert and tls_key, its own user and password_file or, for
// m2, credentials: its nkey seed, replicas 3). The admin
// host, as admin, creates the buckets (fleet init); the members, as
// themselves, bind them and register. The admin host's user add
// reaches them over TLS; a knock through the load balancer opens on
// both pool members, one to m3 on m3 alone; a packet granted by m1 is a
// replay at m2; a member's NATS user can write neither a user record
// nor another member's registration, nor purge, change or remove a
// bucket; user remove reaches every member. A member without TLS or
// credentials refuses to start (exit 2, one line naming the field); one
// with a wrong CA says so in one line naming TLS and holds to
// fleet_unavailable: refuse refuses, local grants alone. The admin host
// without a client certificate, with a wrong password or a wrong CA
// fails at once, in one line saying why.
func TestFleetTLS(t *testing.T) {
	w := newPoolWorld(t, 3)
	pki := newTestPKI(t, filepath.Join(w.dir, "pki"))
	w.startTLSNATS(pki)
	w.startTLSMembers(pki)
	w.balance(w.addrs[0], w.addrs[1])
	t.Run("refuses to join without TLS or credentials", w.refusesInsecure)
	for u := range 2 {
		w.enroll(u)
	}
	for i := range w.members {
		waitText(t, w.logs[i], `msg="fleet: users applied" users=2`, 5*time.Second)
	}

	// u0 through the load balancer: both pool members open, m3 not.
	if w.dial(poolVIP, 2300) {
		t.Fatal("u0's port open before its knock")
	}
	w.client("", "send", "u0")
	time.Sleep(100 * time.Millisecond)
	if !w.dialWithin(poolVIP, 2300, 300*time.Millisecond) {
		t.Errorf("u0's knock through the load balancer did not open")
	}
	for i, want := range []bool{true, true, false} {
		if got := w.dial(w.addrs[i], 2300); got != want {
			t.Errorf("m%d holds u0's grant: %v, want %v\n%s", i+1, got, want, w.logs[i])
		}
	}
	if pool := strings.Count(w.logs[0].String()+w.logs[1].String(), `msg="pool grant" member=m`); pool < 1 {
		t.Errorf("no pool grant applied over TLS:\nm1:\n%s\nm2:\n%s", w.logs[0], w.logs[1])
	}

	// u1 to m3, sealed for m3's own identity: m3 opens, the pool not.
	el, payload := sealForHost(t, w.accts[1], m3Addr.String(), derive.Step(time.Now(), w.accts[1].Params.Period))
	w.sendPayload(m3Addr, el, payload)
	waitText(t, w.logs[2], fmt.Sprintf("msg=grant src=%s user=u1", poolClient), 3*time.Second)
	for i, want := range []bool{false, false, true} {
		if got := w.dial(w.addrs[i], 2301); got != want {
			t.Errorf("m%d holds u1's grant to m3: %v, want %v", i+1, got, want)
		}
	}

	// u0's next step to m1, then the same packet to m2: one grant, then
	// a replay, with the members' NATS users.
	next := derive.Step(time.Now(), w.accts[0].Params.Period) + 1
	el, payload = sealFor(t, w.accts[0], next)
	w.sendPayload(w.addrs[0], el, payload)
	waitText(t, w.logs[0], fmt.Sprintf("msg=grant src=%s user=u0 step=%d", poolClient, next), 3*time.Second)
	w.sendPayload(w.addrs[1], el, payload)
	waitText(t, w.logs[1], fmt.Sprintf("msg=replay src=%s user=u0", poolClient), 3*time.Second)

	t.Run("a member's NATS user", w.memberPermissions(pki))
	t.Run("user remove", w.removeOverTLS)
	t.Run("no client certificate", w.noClientCert)
	t.Run("a wrong password", w.wrongPassword)
	t.Run("a wrong CA", w.wrongCA(pki))
}

// testPKI is the test's CA, the NATS nodes' certificates (server and
// client use: routes are mutual TLS) and the members' client
// certificates, ECDSA P-256, as PEM files in dir; and a second CA that
// signed none of them.
type testPKI struct {
	dir     string
	wrongCA string // a CA file that signed nothing here
}

func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: dir, wrongCA: filepath.Join(dir, "wrong-ca.pem")}
	ca, caKey := p.issue(t, "ca", &x509.Certificate{Subject: pkix.Name{CommonName: "otpknock test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	for k := range 3 {
		name := fmt.Sprintf("nats%d", k+1)
		p.issue(t, name, &x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			IPAddresses: []net.IP{net.ParseIP(natsAddr(k))}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, ca, caKey)
	}
	for i := range 3 {
		name := fmt.Sprintf("m%d", i+1)
		p.issue(t, name, &x509.Certificate{Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	}
	p.issue(t, "wrong-ca", &x509.Certificate{Subject: pkix.Name{CommonName: "another CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	return p
}

// issue writes name.pem and name.key: tmpl signed by parent (nil: self-signed).
func (p *testPKI) issue(t *testing.T, name string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(p.dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.dir, name+".key"), "EC PRIVATE KEY", kder)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// guideBlock returns the first fenced block of the guide's section
// heading (up to the next heading).
func guideBlock(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no section %q", guideFile, heading)
	}
	s = s[i+len(heading)+2:]
	if j := strings.Index(s, "\n#"); j >= 0 {
		s = s[:j]
	}
	m := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s: %s has no code block", guideFile, heading)
	}
	return m[1]
}

// mustReplace replaces old in s, failing when the guide no longer has it.
func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the guide's block no longer has %q:\n%s", old, s)
	}
	return strings.ReplaceAll(s, old, new)
}

// startTLSNATS starts the guide's 3-node cluster: node k's config is
// the guide's (written for nats1) for natsk, its routes to the nodes'
// addresses, its files in the test's directories, the password hash the
// test's.
func (w *poolWorld) startTLSNATS(pki *testPKI) {
	t := w.t.(*testing.T)
	conf := guideBlock(t, guideNATSHeading)
	for _, field := range []string{"verify: true", "cluster {", "tls {", "authorization {", "jetstream {", "user: admin,", "user: bastion1,",
		"permissions: {"} {
		if !strings.Contains(conf, field) {
			t.Fatalf("the guide's NATS config has no %q", field)
		}
	}
	conf = w.memberUsers(t, conf)
	hash, err := bcrypt.GenerateFromPassword([]byte(tlsPassword), 11)
	if err != nil {
		t.Fatal(err)
	}
	conf = mustReplace(t, conf, `"$2a$11$...bcrypt..."`, fmt.Sprintf("%q", hash))
	conf = mustReplace(t, conf, "/etc/nats/", pki.dir+"/")
	for k := range w.nats {
		conf = mustReplace(t, conf, fmt.Sprintf("nats-route://nats%d:", k+1), fmt.Sprintf("nats-route://%s:", natsAddr(k)))
	}
	var logs []*netnstest.Buffer
	for k := range w.nats {
		text := strings.ReplaceAll(conf, "nats1", fmt.Sprintf("nats%d", k+1))
		text = mustReplace(t, text, "/var/lib/nats", filepath.Join(w.dir, fmt.Sprintf("js%d", k+1)))
		path := filepath.Join(w.dir, fmt.Sprintf("nats%d.conf", k+1))
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		_, log := w.startCmd(w.nats[k], "nats-server", "-c", path)
		waitText(t, log, "Server is ready", 10*time.Second)
		logs = append(logs, log)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for k, l := range logs {
				t.Logf("NATS node %d:\n%s", k+1, l)
			}
		}
	})
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		for _, l := range logs {
			if strings.Contains(l.String(), "new metadata leader") || strings.Contains(l.String(), "JetStream cluster new meta leader") {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("the NATS cluster elected no JetStream leader:\n%s", logs[0])
		}
	}
}

// memberUsers replaces the guide's member user, bastion1, by one for
// each member, m1..m3, as the guide says: its name, and the hex of its
// name in the subject of its registration.
func (w *poolWorld) memberUsers(t *testing.T, conf string) string {
	i := strings.Index(conf, "\n  { user: bastion1,")
	if i < 0 {
		t.Fatalf("the guide's NATS config has no member user bastion1:\n%s", conf)
	}
	j := strings.Index(conf[i:], "\n  } }")
	if j < 0 {
		t.Fatalf("the guide's member user bastion1 has no end (a line \"  } }\"):\n%s", conf[i:])
	}
	entry := conf[i : i+j+len("\n  } }")]
	var users strings.Builder
	for m := range w.members {
		name := fmt.Sprintf("m%d", m+1)
		e := mustReplace(t, entry, "user: bastion1,", "user: "+name+",")
		if m == 1 {
			e = mustReplace(t, e, `user: m2, password: "$2a$11$...bcrypt...",`, "nkey: "+w.nkeyUser(t)+",")
		}
		users.WriteString(mustReplace(t, e, ".m."+hex.EncodeToString([]byte("bastion1"))+`"`, ".m."+hex.EncodeToString([]byte(name))+`"`))
	}
	return conf[:i] + users.String() + conf[i+len(entry):]
}

// nkeyUser makes m2's nkey, the seed in m2.nk, and returns its public key.
func (w *poolWorld) nkeyUser(t *testing.T) string {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if err := os.WriteFile(filepath.Join(w.dir, "m2.nk"), append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}

// tlsFleetSection is the guide's member fleet section for member i (its
// files in dir): the servers at the NATS nodes' addresses, its own NATS
// user, the test's CA, certificate, password and admin key.
func (w *poolWorld) tlsFleetSection(pki *testPKI, i int, dir, adminKey string) string {
	t := w.t.(*testing.T)
	block := guideBlock(t, guideMemberHead)
	j := strings.Index(block, "\nfleet:\n")
	if j < 0 {
		t.Fatalf("the guide's member config has no fleet section:\n%s", block)
	}
	s := block[j+1:]
	for _, field := range []string{"tls_ca:", "tls_cert:", "tls_key:", "user: bastion1", "password_file:", "replicas: 3", "tls://nats1:4222"} {
		if !strings.Contains(s, field) {
			t.Fatalf("the guide's member config has no %q:\n%s", field, s)
		}
	}
	for k := range w.nats {
		s = mustReplace(t, s, fmt.Sprintf("tls://nats%d:", k+1), fmt.Sprintf("tls://%s:", natsAddr(k)))
	}
	s = mustReplace(t, s, "/etc/otpknock/", dir+"/")
	s = regexp.MustCompile(`admin_key: \S+`).ReplaceAllString(s, adminKey)
	name := fmt.Sprintf("m%d", i+1)
	s = mustReplace(t, s, "user: bastion1", "user: "+name)
	if i == 1 { // m2 signs in with its nkey, as the guide says
		s = regexp.MustCompile(`(?m)^  (user|password_file):.*\n`).ReplaceAllString(s, "")
		s = mustReplace(t, s, "  replicas:", "  credentials: "+filepath.Join(dir, "nats-member.nk")+"\n  replicas:")
		copyFile(t, filepath.Join(w.dir, "m2.nk"), filepath.Join(dir, "nats-member.nk"))
	}
	copyFile(t, filepath.Join(pki.dir, "ca.pem"), filepath.Join(dir, "nats-ca.pem"))
	copyFile(t, filepath.Join(pki.dir, name+".pem"), filepath.Join(dir, "nats-member.pem"))
	copyFile(t, filepath.Join(pki.dir, name+".key"), filepath.Join(dir, "nats-member.key"))
	if err := os.WriteFile(filepath.Join(dir, "nats-password"), []byte(tlsPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startTLSMembers makes the admin key and the admin host's config (m1's,
// with the NATS user admin), creates the buckets as admin, then starts
// m1 and m2 (identity the pool's address) and m3 (its own), each
// serving ports 2300 and 2301, with the guide's fleet section: all
// three bind the buckets and register over TLS with their own users.
func (w *poolWorld) startTLSMembers(pki *testPKI) {
	t := w.t
	w.adminKey = filepath.Join(w.dir, "admin", "admin.key")
	line := regexp.MustCompile(`admin_key: \S+`).FindString(w.p.MustRun(t, w.lb, bins.Server, "fleet", "admin-key", "--admin-key", w.adminKey))
	for i := range w.members {
		host := poolVIP
		if i == 2 {
			host = m3Addr
		}
		dir := filepath.Join(w.dir, fmt.Sprintf("m%d", i+1))
		cfg := filepath.Join(dir, "config.yaml")
		w.p.MustRun(t, w.members[i], bins.Server, "init", "-c", cfg, "--server-id", fmt.Sprintf("m%d", i+1), "--host", host.String(),
			"--state-file", filepath.Join(dir, "state", "state.json"))
		data, _ := os.ReadFile(cfg)
		data = []byte(strings.Replace(string(data), "firewall: auto", "firewall: nftables", 1))
		data = append(data, w.tlsFleetSection(pki, i, dir, line)...)
		if err := os.WriteFile(cfg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		w.cfgs = append(w.cfgs, cfg)
	}
	data, _ := os.ReadFile(w.cfgs[0])
	w.adminCfg = filepath.Join(w.dir, "admin", "config.yaml")
	if err := os.WriteFile(w.adminCfg, []byte(mustReplace(w.t.(*testing.T), string(data), "  user: m1", "  user: admin")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := w.admin("fleet", "init"); !strings.Contains(out, "buckets otpknock_users_61636d65 and otpknock_used_61636d65 ready (replicas 3)") {
		t.Fatalf("fleet init as admin: want both buckets, replicas 3:\n%s", out)
	}
	for i := range w.members {
		for u := range 2 {
			go netnstest.AcceptAll(w.p.Listen(t, w.members[i], "tcp", fmt.Sprintf("[::]:%d", 2300+u)))
		}
		c, log := w.startCmd(w.members[i], bins.Server, "server", "-c", w.cfgs[i])
		w.memberProcs = append(w.memberProcs, c)
		w.logs = append(w.logs, log)
		waitText(t, w.logs[i], "msg=started", 20*time.Second)
		if !strings.Contains(w.logs[i].String(), "connected=true") {
			t.Fatalf("m%d did not join the fleet over TLS:\n%s", i+1, w.logs[i])
		}
	}
	if out := w.admin("fleet", "members"); strings.Count(out, poolVIP.String()) != 2 || !strings.Contains(out, m3Addr.String()) {
		t.Fatalf("fleet members: want m1 and m2 with identity %s, m3 with %s:\n%s", poolVIP, m3Addr, out)
	}
}

// refusesInsecure: m3's config without tls_ca, or without its user and
// password_file, and without insecure: true, does not start: exit 2
// and one line naming the field.
func (w *poolWorld) refusesInsecure(t *testing.T) {
	data, err := os.ReadFile(w.cfgs[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, drop, field string }{
		{"no tls_ca", `(?m)^  tls_ca:.*\n`, "fleet.tls_ca:"},
		{"no credentials", `(?m)^  (user|password_file):.*\n`, "fleet.credentials:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := regexp.MustCompile(c.drop).ReplaceAllString(string(data), "")
			if text == string(data) {
				t.Fatalf("the config has nothing to drop for %s", c.drop)
			}
			cfg := filepath.Join(filepath.Dir(w.cfgs[2]), "insecure.yaml")
			if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := w.p.Cmd(w.members[2], bins.Server, "server", "-c", cfg)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			err := runWithin(cmd, 10*time.Second)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Errorf("otpknockd server: %v, want exit status 2\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.field) {
				t.Errorf("otpknockd server said:\n%s\nwant one line naming %s", out.String(), c.field)
			}
		})
	}
}

// runWithin runs cmd, killing it after d.
func runWithin(cmd *exec.Cmd, d time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	t := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer t.Stop()
	return cmd.Wait()
}

// wrongCA restarts m2 with a CA that did not sign the NATS servers'
// certificates: it logs one line naming TLS, starts from its last copy
// of the users, and holds to its fleet_unavailable: refuse refuses u1's
// knock, local grants it without the pool.
func (w *poolWorld) wrongCA(pki *testPKI) func(*testing.T) {
	return func(t *testing.T) {
		orig, err := os.ReadFile(w.cfgs[1])
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(w.cfgs[1], orig, 0o600)
		step := derive.Step(time.Now(), w.accts[1].Params.Period)
		for n, mode := range []string{"refuse", "local"} {
			w.memberProcs[1].Process.Signal(syscall.SIGTERM)
			w.memberProcs[1].Wait()
			text := regexp.MustCompile(`(?m)^  tls_ca: .*$`).ReplaceAllString(string(orig), "  tls_ca: "+pki.wrongCA)
			text = mustReplace(t, text, "fleet_unavailable: local", "fleet_unavailable: "+mode)
			if err := os.WriteFile(w.cfgs[1], []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			c, log := w.startCmd(w.members[1], bins.Server, "server", "-c", w.cfgs[1])
			w.memberProcs[1], w.logs[1] = c, log
			waitText(t, log, "msg=started", 20*time.Second)
			waitText(t, log, "fleet unreachable at start: using the last copy", time.Second)
			time.Sleep(time.Second) // a few more attempts: still one line
			if n := strings.Count(log.String(), "cannot connect to NATS over TLS"); n != 1 {
				t.Errorf("fleet_unavailable: %s: %d lines naming TLS, want 1:\n%s", mode, n, log)
			}
			if !strings.Contains(log.String(), "certificate signed by unknown authority") {
				t.Errorf("fleet_unavailable: %s: the log does not say the CA is wrong:\n%s", mode, log)
			}
			el, payload := sealFor(t, w.accts[1], step+uint64(n))
			w.sendPayload(w.addrs[1], el, payload)
			grant := fmt.Sprintf("msg=grant src=%s user=u1 step=%d", poolClient, step+uint64(n))
			if mode == "refuse" {
				w.adminRefused(t, w.cfgs[1], "certificate signed by unknown authority")
			}
			if mode == "local" {
				waitText(t, log, grant, time.Second)
				if !w.dial(w.addrs[1], 2301) {
					t.Errorf("fleet_unavailable: local: u1's knock did not open m2")
				}
				if w.dial(w.addrs[0], 2301) {
					t.Errorf("fleet_unavailable: local: u1's grant reached m1 without NATS")
				}
				continue
			}
			waitText(t, log, fmt.Sprintf("msg=\"refused source\" src=%s user=u1 step=%d", poolClient, step), time.Second)
			if !strings.Contains(log.String(), "fleet store unreachable (fleet_unavailable: refuse)") {
				t.Errorf("fleet_unavailable: refuse: the refusal does not say why:\n%s", log)
			}
			if strings.Contains(log.String(), grant) || w.dial(w.addrs[1], 2301) {
				t.Errorf("fleet_unavailable: refuse: u1's knock opened m2:\n%s", log)
			}
		}
	}
}

// adminRefused: the admin host's fleet members with cfg, which NATS
// refuses over TLS, fails at once with one line naming TLS and reason.
func (w *poolWorld) adminRefused(t *testing.T, cfg, reason string) {
	t.Helper()
	w.adminRefusedSays(t, cfg, "over TLS", reason)
}

// adminRefusedSays: the admin host's fleet members with cfg fails at
// once with one line saying what and reason.
func (w *poolWorld) adminRefusedSays(t *testing.T, cfg, what, reason string) {
	t.Helper()
	cmd := w.p.Cmd(w.lb, bins.Server, "fleet", "members", "--config", cfg, "--admin-key", w.adminKey)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := runWithin(cmd, 10*time.Second)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err == nil || time.Since(start) > 5*time.Second || len(lines) != 1 || !strings.Contains(lines[0], what) ||
		!strings.Contains(lines[0], reason) {
		t.Errorf("fleet members: %v after %v, said:\n%s\nwant a failure at once, one line with %q and %q",
			err, time.Since(start).Round(time.Millisecond), out.String(), what, reason)
	}
}

// wrongPassword: with another password, the servers refuse the admin
// host, which says so in one line.
func (w *poolWorld) wrongPassword(t *testing.T) {
	data, err := os.ReadFile(w.cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(w.dir, "admin", "wrong-password")
	if err := os.WriteFile(pw, []byte("not "+tlsPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^  password_file: .*$`).ReplaceAllString(string(data), "  password_file: "+pw)
	cfg := filepath.Join(w.dir, "admin", "wrong-password.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	w.adminRefusedSays(t, cfg, "NATS refuses the credentials", "Authorization Violation")
}

// noClientCert: without tls_cert and tls_key, the servers (verify:
// true) refuse the admin host.
func (w *poolWorld) noClientCert(t *testing.T) {
	data, err := os.ReadFile(w.cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^  tls_(cert|key):.*\n`).ReplaceAllString(string(data), "")
	cfg := filepath.Join(w.dir, "admin", "no-cert.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	w.adminRefused(t, cfg, "") // the servers' alert, or their closing the connection
}
