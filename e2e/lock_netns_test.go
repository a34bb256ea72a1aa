package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// firewallState is what iptables, ip6tables and ipset show of otpknock
// in the server namespace.
func (w *world) firewallState() string {
	w.t.Helper()
	var b strings.Builder
	for _, cmd := range [][]string{{"iptables", "-S", "INPUT"}, {"iptables", "-S"}, {"ip6tables", "-S"}, {"ipset", "list", "-n"}} {
		out, _ := w.p.Cmd(w.p.Server, cmd...).CombinedOutput()
		b.WriteString(strings.Join(cmd, " ") + ":\n" + string(out))
	}
	return b.String()
}

// closedToStranger checks that the protected ports refuse the stranger
// while an unprotected one answers.
func (w *world) closedToStranger(when string) {
	w.t.Helper()
	for _, port := range []uint16{2222, 2223, 2224, 2225} {
		if w.open(w.stranger, w.p.ServerV4, port) {
			w.t.Errorf("%s: tcp/%d open to a stranger", when, port)
		}
	}
	if !w.open(w.stranger, w.p.ServerV4, 3000) {
		w.t.Errorf("%s: the unprotected tcp/3000 does not answer: the check proves nothing", when)
	}
}

// TestServerHeals breaks the running server's firewall with the real
// tools and checks that it is back, as it was, within 5 s, with a log
// line, and the protected ports closed to a stranger afterwards.
func TestServerHeals(t *testing.T) {
	w := newWorld(t)
	w.startServer()
	want := w.firewallState()
	tests := []struct {
		name string
		cmds [][]string
	}{
		{"iptables -F INPUT", [][]string{{"iptables", "-F", "INPUT"}}},
		{"ip6tables -F INPUT", [][]string{{"ip6tables", "-F", "INPUT"}}},
		{"iptables -F OTPKNOCK", [][]string{{"iptables", "-F", "OTPKNOCK"}}},
		{"chain and set gone", [][]string{{"iptables", "-F", "INPUT"}, {"iptables", "-F", "OTPKNOCK"}, {"iptables", "-X", "OTPKNOCK"}, {"ipset", "destroy", "otpknock4"}}},
		{"a changed rule", [][]string{{"iptables", "-R", "OTPKNOCK", "1", "-p", "tcp", "-m", "multiport", "--dports", "2222,2223,2224,2225", "-j", "ACCEPT"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { w.breakAndHeal(t, tt.cmds, i+1, w.firewallState, want) })
	}
}

// breakAndHeal runs cmds in the server's namespace and checks that
// within 5 s state() is want again and the log holds repairs repair
// lines (the count proves the commands broke something), then that the
// protected ports are closed to a stranger.
func (w *world) breakAndHeal(t *testing.T, cmds [][]string, repairs int, state func() string, want string) {
	t.Helper()
	for _, c := range cmds {
		w.p.MustRun(t, w.p.Server, c...)
	}
	broken := time.Now()
	var got string
	for time.Since(broken) < 5*time.Second {
		if got = state(); got == want && strings.Count(w.log.String(), "firewall repaired") == repairs {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("not healed within 5 s:\n%s\nwant:\n%s\nlog:\n%s", got, want, w.log)
	}
	if n := strings.Count(w.log.String(), "firewall repaired"); n != repairs {
		t.Errorf("%d repair log lines, want %d:\n%s", n, repairs, w.log)
	}
	t.Logf("healed after %v", time.Since(broken).Round(10*time.Millisecond))
	w.closedToStranger("after healing")
}

// TestLockAlone runs only otpknockd firewall lock: the protected ports
// close without a server, secrets or state.
func TestLockAlone(t *testing.T) {
	w := newWorld(t)
	dir := filepath.Dir(w.cfg)
	if err := os.RemoveAll(filepath.Join(dir, "secrets")); err != nil {
		t.Fatal(err)
	}
	if !w.open(w.stranger, w.p.ServerV4, 2222) {
		t.Fatalf("tcp/2222 closed before the lock: the check proves nothing")
	}
	if out := w.must(w.p.Server, "firewall", "lock", "-c", w.cfg); !strings.Contains(out, "Locked: tcp/2222, tcp/2223, tcp/2224, tcp/2225 closed") {
		t.Errorf("firewall lock said:\n%s", out)
	}
	if st := w.firewallState(); strings.Contains(st, "NFLOG") {
		t.Errorf("the lock logs knocks:\n%s", st)
	}
	w.closedToStranger("after the lock")
	if out := w.must(w.p.Server, "firewall", "status", "-c", w.cfg); !strings.Contains(out, "locked (otpknockd firewall lock") {
		t.Errorf("firewall status after the lock:\n%s", out)
	}
}

// TestStartFailsClosed starts the server with a secret readable by its
// group (refused): the start fails, and the protected ports are closed
// to a stranger, on a fresh firewall and after a run that closed them.
func TestStartFailsClosed(t *testing.T) {
	for _, before := range []string{"fresh", "after a run"} {
		t.Run(before, func(t *testing.T) {
			w := newWorld(t)
			if before == "after a run" {
				w.startServer()
				w.stopServer(syscall.SIGTERM)
			}
			key := filepath.Join(filepath.Dir(w.cfg), "secrets", "alice.key")
			if err := os.Chmod(key, 0o640); err != nil {
				t.Fatal(err)
			}
			out, err := w.otpknock(w.p.Server, "server", "-c", w.cfg)
			if err == nil || !strings.Contains(out, "alice.key") {
				t.Fatalf("server with a 0640 secret: %v\n%s", err, out)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Errorf("exit %v, want code 2:\n%s", err, out)
			}
			w.closedToStranger("after the failed start")
		})
	}
}

// nftState is the server namespace's nftables ruleset with the set
// elements left out (grants and the pre-filter's elements come and go).
func (w *world) nftState() string {
	w.t.Helper()
	out, _ := w.p.Cmd(w.p.Server, "nft", "-t", "list", "ruleset").CombinedOutput()
	return string(out)
}

// TestServerHealsNFT: with the nftables backend, what nft flush ruleset,
// a deleted table or a deleted rule removed is back within 5 s, with a
// log line per repair, and the protected ports closed to a stranger.
func TestServerHealsNFT(t *testing.T) {
	w := newWorldWith(t, "nftables", "nft")
	w.startServer()
	w.waitLog(`msg=firewall backend="nftables (firewall: nftables in the config)"`)
	want := w.nftState()
	if !strings.Contains(want, "table inet otpknock") {
		t.Fatalf("no table inet otpknock after start:\n%s", want)
	}
	tests := []struct {
		name string
		cmds [][]string
	}{
		{"nft flush ruleset", [][]string{{"nft", "flush", "ruleset"}}},
		{"table deleted", [][]string{{"nft", "delete", "table", "inet", "otpknock"}}},
		{"chain flushed", [][]string{{"nft", "flush", "chain", "inet", "otpknock", "input"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { w.breakAndHeal(t, tt.cmds, i+1, w.nftState, want) })
	}
}
