package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestKeepFollowsAddressChange runs otpknock keep in the client
// namespace, moves the client to another address (ip addr add, then del
// of the old one), and checks that the service answers from the new
// address within 2 s of the change, that keep said the re-knock in one
// line, and that SIGTERM ends it with exit 0.
func TestKeepFollowsAddressChange(t *testing.T) {
	w := newWorld(t)
	p := w.p
	moved := netip.MustParseAddr("198.18.0.4")
	// One address to start with; the new one becomes primary when the
	// old one goes.
	p.MustRun(t, p.Client, "ip", "addr", "del", w.stranger.String()+"/24", "dev", "veth0")
	p.MustRun(t, p.Client, "sysctl", "-q", "-w", "net.ipv4.conf.veth0.promote_secondaries=1")
	w.startServer()

	out := &netnstest.Buffer{}
	keep := p.Cmd(p.Client, bins.Client, "keep", "alice", "--wait", "tcp/2222,2s", "--retries", "1")
	keep.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
	keep.Stdout, keep.Stderr = out, out
	if err := keep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keep.ProcessState == nil {
			keep.Process.Kill()
			keep.Wait()
		}
	})
	waitOutput(t, out, 1, "knocked (start; route 198.18.0.2)", 10*time.Second)
	if !w.open(p.ClientV4, p.ServerV4, 2222) {
		t.Fatalf("tcp/2222 closed to %v after keep's first knock:\n%s", p.ClientV4, out)
	}

	// A second address that is not the route source: nothing to knock.
	p.MustRun(t, p.Client, "ip", "addr", "add", moved.String()+"/24", "dev", "veth0")
	time.Sleep(2500 * time.Millisecond) // past the first knock's step and grant
	if w.open(moved, p.ServerV4, 2222) {
		t.Fatalf("tcp/2222 open to %v before it was the route source:\n%s", moved, out)
	}
	if n := strings.Count(out.String(), "knocked ("); n != 1 {
		t.Fatalf("keep knocked %d times, want once before the route source changed:\n%s", n, out)
	}

	p.MustRun(t, p.Client, "ip", "addr", "del", p.ClientV4.String()+"/24", "dev", "veth0")
	changed := time.Now()
	for !w.open(moved, p.ServerV4, 2222) {
		if time.Since(changed) > 2*time.Second {
			t.Fatalf("tcp/2222 still closed to %v 2s after the address changed:\n%s\nserver:\n%s", moved, out, w.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("open to the new address %v after the change", time.Since(changed).Round(time.Millisecond))
	waitOutput(t, out, 2, fmt.Sprintf("knocked (was route %v; route %v)", p.ClientV4, moved), 5*time.Second)

	t.Logf("keep said:\n%s", out)
	keep.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- keep.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("keep after SIGTERM: %v\n%s", err, out)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("keep still running 5s after SIGTERM:\n%s", out)
	}
}

// waitOutput waits up to d for the n-th "knocked" line of out to hold s.
func waitOutput(t *testing.T, out *netnstest.Buffer, n int, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, ": knocked (") || strings.Contains(l, ": knock failed (") || strings.Contains(l, ": not knocked (") {
				lines = append(lines, l)
			}
		}
		if len(lines) >= n {
			if !strings.Contains(lines[n-1], s) {
				t.Fatalf("keep's line %d is %q, want it to say %q:\n%s", n, lines[n-1], s, out)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keep said no line %d within %v (want %q):\n%s", n, d, s, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
