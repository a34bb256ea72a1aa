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

// nftIn opens the nftables backend in the pair's server namespace and
// installs plan.
func nftIn(t testing.TB, p *netnstest.Pair, plan Plan) *NFT {
	t.Helper()
	var n *NFT
	var err error
	p.Do(t, p.Server, func() {
		if n, err = NewNFT(); err == nil {
			err = n.Setup(plan)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dialer returns a probe of TCP ports from the pair's client namespace.
func dialer(t *testing.T, p *netnstest.Pair) (dial func(dst netip.Addr, port int) (net.Conn, error), open func(dst netip.Addr, port int) bool) {
	dial = func(dst netip.Addr, port int) (net.Conn, error) {
		var c net.Conn
		var err error
		p.Do(t, p.Client, func() {
			c, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, uint16(port)).String(), 300*time.Millisecond)
		})
		return c, err
	}
	open = func(dst netip.Addr, port int) bool {
		c, err := dial(dst, port)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	return dial, open
}

// TestNFTKernel installs the plan with the nftables backend in a server
// namespace and checks from a client namespace: protected ports closed;
// a grant opens one service for one address and family; repeats keep
// one element; grants expire in the kernel; established sessions outlive
// them; Setup is idempotent (the table's handles do not change); Verify
// finds nothing, then notices `nft flush ruleset` and Setup heals it;
// Close keeps the ports closed; Setup after Close and changed plans keep
// the live grants; Remove leaves nothing.
func TestNFTKernel(t *testing.T) {
	netnstest.Require(t, "nft")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Protected = []derive.Knock{{Proto: derive.TCP, Port: 2222}, {Proto: derive.TCP, Port: 2223}}
	n := nftIn(t, p, plan)
	in := func(fn func()) { p.Do(t, p.Server, fn) }
	listing := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", NFTTable)
	t.Logf("installed:\n%s", listing)
	var err error
	in(func() { err = n.Setup(plan) })
	if err != nil {
		t.Fatalf("second setup: %v", err)
	}
	if again := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", NFTTable); again != listing {
		t.Errorf("a second Setup changed the table:\n%s\nbefore:\n%s", again, listing)
	}
	for _, want := range []string{"hook input priority filter - 10", "log group 4711 snaplen 384", "@grant4 accept", "@grant6 accept",
		"type ipv4_addr . inet_proto . inet_service", "flags timeout", `comment "otpknock:` + plan.NFTDigest() + `"`} {
		if !strings.Contains(listing, want) {
			t.Errorf("nft list lacks %q:\n%s", want, listing)
		}
	}
	var diff []string
	in(func() { diff, err = n.Verify(plan) })
	if err != nil || len(diff) != 0 {
		t.Fatalf("Verify after Setup: %v\n%s", err, strings.Join(diff, "\n"))
	}
	for _, port := range []int{2222, 2223} {
		go serve(p.Listen(t, p.Server, "tcp", "[::]:"+strconv.Itoa(port)))
	}
	dial, open := dialer(t, p)
	for _, fam := range []struct{ src, dst netip.Addr }{{p.ClientV4, p.ServerV4}, {p.ClientV6, p.ServerV6}} {
		if open(fam.dst, 2222) {
			t.Fatalf("%v:2222 open before any grant", fam.dst)
		}
		for range 2 {
			in(func() { err = n.Grant(fam.src, derive.Knock{Proto: derive.TCP, Port: 2222}, 3*time.Second) })
			if err != nil {
				t.Fatal(err)
			}
		}
		if !open(fam.dst, 2222) {
			t.Errorf("%v:2222 closed after the grant", fam.dst)
		}
		if open(fam.dst, 2223) {
			t.Errorf("%v:2223 opened by a grant for 2222", fam.dst)
		}
	}
	var st Status
	in(func() { st, err = n.Status(plan) })
	if err != nil || len(st.Grants) != 2 || st.Grants[0].Left <= 0 || st.Grants[0].Left > 3*time.Second {
		t.Fatalf("status: %v, want 2 grants (one per family, repeats refresh) with time left:\n%+v", err, st)
	}
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

	// nft flush ruleset: Verify notices, Setup heals, the port is closed.
	p.MustRun(t, p.Server, "nft", "flush", "ruleset")
	if !open(p.ServerV4, 2223) {
		t.Fatalf("control: 2223 closed after nft flush ruleset")
	}
	in(func() { diff, err = n.Verify(plan) })
	if err != nil || !strings.Contains(strings.Join(diff, "\n"), "table inet otpknock is missing") {
		t.Errorf("Verify after nft flush ruleset: %v %q", err, diff)
	}
	in(func() { err = n.Setup(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if open(p.ServerV4, 2223) {
		t.Errorf("2223 open after Setup healed the table")
	}
	in(func() { diff, err = n.Verify(plan) })
	if err != nil || len(diff) != 0 {
		t.Errorf("Verify after healing: %v %q", err, diff)
	}

	in(func() { err = n.Close(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if out := p.MustRun(t, p.Server, "nft", "list", "table", "inet", NFTTable); strings.Contains(out, "log group") || !strings.Contains(out, "drop") {
		t.Errorf("after Close: log rules must go, drops stay:\n%s", out)
	}
	if open(p.ServerV4, 2222) {
		t.Errorf("port open after Close (must fail closed)")
	}
	// Setup after Close, then a changed plan and back: each one
	// transaction that keeps the grant sets and their live grants.
	in(func() { err = n.Grant(p.ClientV4, derive.Knock{Proto: derive.TCP, Port: 2223}, 30*time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	changed := plan
	changed.Protocols = derive.Protocols(derive.TCP)
	changed.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	for _, q := range []Plan{plan, changed, plan} {
		in(func() {
			if err = n.Setup(q); err == nil {
				diff, err = n.Verify(q)
			}
		})
		if err != nil || len(diff) != 0 {
			t.Fatalf("Setup and Verify of a changed plan: %v %q", err, diff)
		}
		if !open(p.ServerV4, 2223) || open(p.ServerV4, 2222) {
			t.Errorf("after replacing the table: the grant for 2223 lost or 2222 open")
		}
	}
	in(func() { err = n.Remove(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if out := p.MustRun(t, p.Server, "nft", "list", "ruleset"); strings.Contains(out, NFTTable) {
		t.Errorf("after Remove:\n%s", out)
	}
	if !open(p.ServerV4, 2222) {
		t.Errorf("2222 still closed after Remove")
	}
	in(func() { err = n.Remove(plan) })
	if err != nil {
		t.Errorf("Remove on a clean ruleset: %v", err)
	}
}
