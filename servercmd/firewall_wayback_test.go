package servercmd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
)

// TestFirewallWithoutConfig runs firewall status and remove with the
// config broken or missing: each warns in one line and works by name.
func TestFirewallWithoutConfig(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, path string)
		warn  string // in the warning
	}{
		{"misspelt field", func(t *testing.T, path string) { appendFile(t, path, "open_timout: 30s\n") }, "open_timout"},
		{"missing", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t)
			cfg, err := config.Load(s.path)
			if err != nil {
				t.Fatal(err)
			}
			plan := daemon.PlanFor(cfg, s.fw)
			s.fw.Setup(plan)
			s.fw.Grant(firewall.HostPrefix(netip.MustParseAddr("198.18.0.2")), derive.Knock{Proto: derive.TCP, Port: 22}, 30*time.Second)
			tt.spoil(t, s.path)
			steps := []struct {
				cmd  string
				want string // the output
			}{
				{"status", "Chain OTPKNOCK: 8 IPv4 and 8 IPv6 rules, not compared with a config (none loaded); knock logging on.\n" +
					strings.Join(firewallRules(s), "") + "Sets otpknock4, otpknock6: 1 grant.\nSOURCE      SERVICE  LEFT\n198.18.0.2  tcp/22   30s\n"},
				{"remove", "Removed the OTPKNOCK and OTPKNOCK-FWD chains, their jumps and otpknock's sets (grants, prefixes, forwarded services and the pre-filter's).\n"},
				{"remove", "Nothing to remove: no chain OTPKNOCK is installed.\n"},
				{"status", "Not installed: no OTPKNOCK chain (otpknockd server installs it).\n"},
			}
			for _, st := range steps {
				s.stdout.mu.Lock()
				s.stdout.b.Reset()
				s.stdout.mu.Unlock()
				s.stderr.mu.Lock()
				s.stderr.b.Reset()
				s.stderr.mu.Unlock()
				if err := s.run(context.Background(), "firewall", st.cmd, "-c", s.path); err != nil {
					t.Fatalf("firewall %s: %v (exit %d)", st.cmd, err, cli.ExitCode(err))
				}
				if diff := cmp.Diff(st.want, s.stdout.String()); diff != "" {
					t.Errorf("firewall %s (-want +got):\n%s", st.cmd, diff)
				}
				warn := s.stderr.String()
				if strings.Count(warn, "\n") != 1 || !strings.HasPrefix(warn, "warning: ") || !strings.Contains(warn, tt.warn) || !strings.Contains(warn, "going on without the config") {
					t.Errorf("firewall %s: stderr %q, want one warning line naming %q", st.cmd, warn, tt.warn)
				}
			}
			if got, want := s.fw.String(), "installed=false nflog=false setups=1"; got != want {
				t.Errorf("firewall after remove: %q, want %q", got, want)
			}
		})
	}
}

// firewallRules is the fake's chain as status lists it.
func firewallRules(s *fakeServer) []string {
	st, _ := s.fw.Status(firewall.Plan{})
	var out []string
	for _, r := range st.Rules4 {
		out = append(out, "  "+r+"\n")
	}
	return out
}

// startServer starts the server on s's fakes and returns the function
// that stops it.
func startServer(t *testing.T, s *fakeServer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, "server", "-c", s.path) }()
	wait, stopWait := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopWait()
	if err := s.clock.WaitTickers(wait, 2); err != nil {
		t.Fatalf("the server never started: %v\n%s", err, s.stderr)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v\n%s", err, s.stderr)
		}
	}
}

// TestWhileAServerRuns: a second server, firewall remove and --check
// name the running server (its pid and pid file) first; remove refuses
// unless --force.
func TestWhileAServerRuns(t *testing.T) {
	s := newFakeServer(t)
	stop := startServer(t, s)
	pidFile := filepath.Join(filepath.Dir(s.path), "otpknock.pid")
	runs := fmt.Sprintf("a server already runs (pid %d, %s)", os.Getpid(), pidFile)
	installed := s.fw.String()

	second := s.env() // the group is taken: the kernel's error a second server met late
	second.Packets = func(uint16) (listener.Source, error) {
		return nil, errors.New("nflog_group 4711: taken (another otpknock server, ulogd?)")
	}
	err := Run(context.Background(), []string{"server", "-c", s.path}, second)
	if cli.ExitCode(err) != cli.ExitFailure || err == nil || !strings.HasPrefix(err.Error(), runs+": stop it first (systemctl stop otpknock)") {
		t.Errorf("second server: %v (exit %d), want exit 1 starting %q", err, cli.ExitCode(err), runs)
	}
	err = s.run(context.Background(), "firewall", "remove", "-c", s.path)
	if cli.ExitCode(err) != cli.ExitFailure || err == nil || !strings.HasPrefix(err.Error(), runs) ||
		!strings.Contains(err.Error(), "systemctl stop otpknock") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("firewall remove: %v (exit %d), want exit 1 naming %q, systemctl stop otpknock and --force", err, cli.ExitCode(err), runs)
	}
	err = s.run(context.Background(), "firewall", "remove", "-c", s.path+".missing") // the default config's pid file (Env.StateDir)
	if cli.ExitCode(err) != cli.ExitFailure || err == nil || !strings.HasPrefix(err.Error(), runs) {
		t.Errorf("firewall remove without a config: %v (exit %d), want exit 1 naming %q", err, cli.ExitCode(err), runs)
	}
	if got := s.fw.String(); got != installed {
		t.Errorf("the firewall changed while refusing:\n%s\nwas:\n%s", got, installed)
	}
	if err := s.run(context.Background(), "firewall", "remove", "--force", "-c", s.path); err != nil {
		t.Fatalf("firewall remove --force: %v", err)
	}
	if got := s.fw.String(); !strings.HasPrefix(got, "installed=false") {
		t.Errorf("after remove --force: %s", got)
	}
	stop()
	if logs := s.stderr.String(); !strings.Contains(logs, "the protected ports stay closed until the server starts again; otpknockd firewall remove opens them") {
		t.Errorf("the stop lines do not say how the ports open:\n%s", logs)
	}
	if err := s.run(context.Background(), "firewall", "remove", "-c", s.path); err != nil {
		t.Errorf("firewall remove after the server stopped: %v", err)
	}
}

// TestFirewallRemoveHelp: --help says remove refuses while a server
// runs and what --force does.
func TestFirewallRemoveHelp(t *testing.T) {
	s := newFakeServer(t)
	if err := s.run(context.Background(), "firewall", "remove", "--help"); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(strings.Fields(s.stdout.String()), " ")
	for _, want := range []string{"While a server runs it refuses and names the pid", "systemctl stop otpknock", "--force", "works when the config is broken or missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, s.stdout)
		}
	}
}
