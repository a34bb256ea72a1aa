package servercmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/privs"
	"github.com/otpknock/otpknock/listener"
)

// checkLines is server --check's output with the lines that depend on
// the host dropped: the service user's access (root only, when the
// otpknock user exists) and the sockets inside the knock range; the
// test's directory reads DIR.
func checkLines(out, dir string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.Contains(l, "service user ") || strings.HasPrefix(l, "warn local sockets") {
			continue
		}
		lines = append(lines, strings.ReplaceAll(l, dir, "DIR"))
	}
	return lines
}

// TestServerCheck runs server --check on fakes: one line per check, ok
// or FAIL naming what failed, a warning first when a server runs; exit
// 2 when a check failed, and the firewall unchanged.
func TestServerCheck(t *testing.T) {
	boom := errors.New("netlink socket gone")
	taken := fmt.Errorf("nflog_group 4711: %w (another otpknock server, ulogd?)", listener.ErrGroupTaken)
	failFirewall := func(e *Env) { e.Firewall = func() (firewall.Backend, error) { return nil, boom } }
	failPackets := func(err error) func(e *Env) {
		return func(e *Env) { e.Packets = func(uint16) (listener.Source, error) { return nil, err } }
	}
	const (
		firewallOK = "ok   firewall *firewalltest.Fake (set by the caller)"
		nflogOK    = "ok   NFLOG group 4711 free"
		secretOK   = "ok   secret of alice: 256 bits, private"
		secretFAIL = `FAIL secret of user "alice": DIR/secrets/alice.key is missing: file does not exist`
	)
	tests := []struct {
		name    string
		spoil   func(t *testing.T, dir string) // the config's directory
		env     func(e *Env)
		running bool     // a server runs on the config while it checks
		want    []string // the lines after config and strength, before state_file: secret, state, firewall, NFLOG
		failed  int      // FAIL lines; 0 is exit 0
	}{
		{"all ok", nil, nil, false, []string{secretOK, "ok   state_file DIR/state.json", firewallOK, nflogOK}, 0},
		{"missing secret", func(t *testing.T, dir string) { removeFile(t, filepath.Join(dir, "secrets", "alice.key")) }, nil, false,
			[]string{secretFAIL, "ok   state_file DIR/state.json", firewallOK, nflogOK}, 1},
		{"bad state file", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "state.json"), "{}") }, nil, false,
			[]string{secretOK, "FAIL state_file DIR/state.json is not an otpknock state file (version 1 or 2): refusing to start without knowing the used steps; restore it, or delete it only if no sequence of the last minutes can be replayed", firewallOK, nflogOK}, 1},
		{"firewall does not open", nil, failFirewall, false,
			[]string{secretOK, "ok   state_file DIR/state.json", "FAIL netlink socket gone", nflogOK}, 1},
		{"NFLOG group held by another program", nil, failPackets(taken), false,
			[]string{secretOK, "ok   state_file DIR/state.json", firewallOK,
				"FAIL NFLOG group 4711 is held by another program (not an otpknockd of this config): set another nflog_group: " + taken.Error()}, 1},
		{"NFLOG group held by the running server", nil, failPackets(taken), true,
			[]string{secretOK, "ok   state_file DIR/state.json", firewallOK, "ok   NFLOG group 4711 works and is held by the running server"}, 0},
		{"NFLOG fails", nil, failPackets(boom), false,
			[]string{secretOK, "ok   state_file DIR/state.json", firewallOK, "FAIL netlink socket gone"}, 1},
		{"every failure counted", func(t *testing.T, dir string) { removeFile(t, filepath.Join(dir, "secrets", "alice.key")) }, failFirewall, false,
			[]string{secretFAIL, "ok   state_file DIR/state.json", "FAIL netlink socket gone", nflogOK}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t)
			dir := filepath.Dir(s.path)
			if tt.spoil != nil {
				tt.spoil(t, dir)
			}
			if tt.running {
				defer startServer(t, s)()
			}
			env := s.env()
			if tt.env != nil {
				tt.env(&env)
			}
			before := s.fw.String()
			out := &lockedBuffer{}
			env.Stdout = out
			err := Run(context.Background(), []string{"server", "--check", "-c", s.path}, env)
			if tt.failed == 0 && err != nil || tt.failed > 0 && (cli.ExitCode(err) != cli.ExitUsage || err.Error() != fmt.Sprintf("server --check found problems: %d failed", tt.failed)) {
				t.Errorf("err = %v (exit %d), want %d failed", err, cli.ExitCode(err), tt.failed)
			}
			want := []string{
				"ok   config DIR/config.yaml: server_id gw1, 1 user, 65 bits per sequence",
				"ok   strength: 54.1 effective bits against a blind sweep (minimum 48)",
			}
			if tt.running {
				want = append([]string{"warn a server already runs (pid " + fmt.Sprint(os.Getpid()) + ", DIR/otpknock.pid): otpknockd server refuses to start a second one; systemctl reload otpknock applies a changed config"}, want...)
			}
			want = append(want, tt.want...)
			if diff := cmp.Diff(want, checkLines(out.String(), dir)); diff != "" {
				t.Errorf("server --check (-want +got):\n%s", diff)
			}
			if got := s.fw.String(); got != before {
				t.Errorf("--check changed the firewall:\n%s\nwas:\n%s", got, before)
			}
		})
	}
}

// TestServerCheckUnprivileged: without root or CAP_NET_ADMIN, --check on
// the kernel's boundaries says so once, last, and stops before the
// firewall and NFLOG; exit 2 counting that line.
func TestServerCheckUnprivileged(t *testing.T) {
	if privs.NetAdmin() {
		t.Skip("runs without root or CAP_NET_ADMIN (e2e runs --check as root in a namespace)")
	}
	s := newFakeServer(t)
	env := s.env()
	env.Firewall, env.Packets = nil, nil
	out := &lockedBuffer{}
	env.Stdout = out
	err := Run(context.Background(), []string{"server", "--check", "-c", s.path}, env)
	if cli.ExitCode(err) != cli.ExitUsage || err.Error() != "server --check found problems: 1 failed" {
		t.Errorf("err = %v (exit %d), want 1 failed and exit 2", err, cli.ExitCode(err))
	}
	lines := checkLines(out.String(), filepath.Dir(s.path))
	want := "FAIL the server needs root or CAP_NET_ADMIN (for iptables, ipset and NFLOG): the checks stop here, before the firewall and NFLOG (run --check with sudo)"
	if len(lines) != 5 || lines[4] != want || strings.Count(out.String(), "FAIL") != 1 {
		t.Errorf("server --check unprivileged: want 4 ok lines and last %q:\n%s", want, out)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
