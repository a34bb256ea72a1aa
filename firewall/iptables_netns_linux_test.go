package firewall

import (
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestKernelFirewall installs the plan in a server namespace and checks,
// from a client namespace: protected ports closed; a grant opens one
// service for one address; a repeat grant keeps one set entry; grants
// expire on time; established sessions outlive them; setup is idempotent;
// Close keeps the ports closed; Remove leaves nothing.
func TestKernelFirewall(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Protected = []derive.Knock{{Proto: derive.TCP, Port: 2222}, {Proto: derive.TCP, Port: 2223}}
	k := iptablesIn(t, p, plan)
	var err error
	in := func(fn func()) { p.Do(t, p.Server, fn) }
	in(func() { err = k.Setup(plan) }) // a second setup must change nothing
	if err != nil {
		t.Fatalf("second setup: %v", err)
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		rules := p.MustRun(t, p.Server, ipt, "-S", Chain)
		if n := strings.Count(rules, "-A "+Chain); n != len(plan.Rules(false)) {
			t.Errorf("%s: %d rules after two setups, want %d:\n%s", ipt, n, len(plan.Rules(false)), rules)
		}
		if n := strings.Count(p.MustRun(t, p.Server, ipt, "-S", "INPUT"), "-j "+Chain); n != 1 {
			t.Errorf("%s: %d jumps from INPUT, want 1", ipt, n)
		}
	}
	for _, port := range []int{2222, 2223} {
		ln := p.Listen(t, p.Server, "tcp", "[::]:"+strconv.Itoa(port))
		go serve(ln)
	}
	dial := func(dst netip.Addr, port int) (net.Conn, error) {
		var c net.Conn
		var err error
		p.Do(t, p.Client, func() {
			c, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, uint16(port)).String(), 300*time.Millisecond)
		})
		return c, err
	}
	open := func(dst netip.Addr, port int) bool {
		c, err := dial(dst, port)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	for _, fam := range []struct{ src, dst netip.Addr }{{p.ClientV4, p.ServerV4}, {p.ClientV6, p.ServerV6}} {
		if open(fam.dst, 2222) {
			t.Fatalf("%v:2222 open before any grant", fam.dst)
		}
		in(func() { err = k.Grant(fam.src, derive.Knock{Proto: derive.TCP, Port: 2222}, 3*time.Second) })
		if err != nil {
			t.Fatal(err)
		}
		in(func() { err = k.Grant(fam.src, derive.Knock{Proto: derive.TCP, Port: 2222}, 3*time.Second) })
		if err != nil {
			t.Fatal(err)
		}
		if !open(fam.dst, 2222) {
			t.Errorf("%v:2222 closed after the grant", fam.dst)
		}
		if open(fam.dst, 2223) {
			t.Errorf("%v:2223 opened by a grant for 2222", fam.dst)
		}
	}
	var st Status
	in(func() { st, err = k.Status(plan) })
	if err != nil || len(st.Grants) != 2 {
		t.Fatalf("status: %v, %d grants (want 2: one per family, repeats refresh):\n%+v", err, len(st.Grants), st)
	}
	// An established session outlives its grant.
	sess, err := dial(p.ServerV4, 2222)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	granted := time.Now()
	var closedAt time.Duration
	for time.Since(granted) < 6*time.Second {
		if !open(p.ServerV4, 2222) {
			closedAt = time.Since(granted)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if closedAt == 0 || closedAt > 4*time.Second {
		t.Errorf("grant of 3s closed after %v, want within 1s of its timeout", closedAt)
	}
	if _, err := sess.Write([]byte("still here\n")); err != nil {
		t.Errorf("established session broken by expiry: %v", err)
	}
	buf := make([]byte, 11)
	sess.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(sess, buf); err != nil || string(buf) != "still here\n" {
		t.Errorf("established session after expiry read %q, %v", buf, err)
	}
	in(func() { err = k.Close(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if rules := p.MustRun(t, p.Server, "iptables", "-S", Chain); strings.Contains(rules, "NFLOG") || !strings.Contains(rules, "DROP") {
		t.Errorf("after Close: NFLOG rules must go, DROP rules stay:\n%s", rules)
	}
	if open(p.ServerV4, 2222) {
		t.Errorf("port open after Close (must fail closed)")
	}
	in(func() { err = k.Setup(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(p.MustRun(t, p.Server, "iptables", "-S", Chain), "NFLOG"); n != 3 {
		t.Errorf("setup after Close: %d NFLOG rules, want 3", n)
	}
	in(func() { err = k.Remove(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if out := p.MustRun(t, p.Server, "iptables", "-S"); strings.Contains(out, Chain) {
		t.Errorf("after Remove:\n%s", out)
	}
	if out, _ := p.Cmd(p.Server, "ipset", "list", "-n").CombinedOutput(); strings.Contains(string(out), "otpknock") {
		t.Errorf("sets left after Remove: %s", out)
	}
	in(func() { err = k.Remove(plan) })
	if err != nil {
		t.Errorf("Remove on a clean firewall: %v", err)
	}
}

// iptablesIn opens the kernel backend in the pair's server namespace and
// installs plan.
func iptablesIn(t testing.TB, p *netnstest.Pair, plan Plan) *IPTables {
	t.Helper()
	var k *IPTables
	var err error
	p.Do(t, p.Server, func() {
		if k, err = NewIPTables(); err == nil {
			err = k.Setup(plan)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serve echoes each connection's lines back.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}
