package servercmd

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
)

// TestFirewallStatusAndRemove runs firewall status and remove in
// process on the fake firewall, in each state it can be in.
func TestFirewallStatusAndRemove(t *testing.T) {
	s := newFakeServer(t)
	cfg, err := config.Load(s.path)
	if err != nil {
		t.Fatal(err)
	}
	plan := daemon.PlanFor(cfg, s.fw)
	ssh := derive.Knock{Proto: derive.TCP, Port: 22}
	fwd := plan // a service forwarded to a container
	fwd.Forward = []derive.Knock{{Proto: derive.TCP, Port: 8080}}
	other := plan // another config's: one more protected service
	other.Protected = append([]derive.Knock{{Proto: derive.UDP, Port: 53}}, plan.Protected...)
	tests := []struct {
		name  string
		setup func()
		args  []string
		want  []string // lines of the output, in order
	}{
		{"not installed", func() {}, []string{"firewall", "status"},
			[]string{"Not installed: no OTPKNOCK chain (otpknockd server installs it)."}},
		{"running, one grant", func() {
			s.fw.Setup(plan)
			s.fw.Grant(firewall.HostPrefix(netip.MustParseAddr("198.18.0.2")), ssh, 30*time.Second)
			s.clock.Advance(10 * time.Second)
		}, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 8 IPv4 and 8 IPv6 rules, current; knock logging on.",
			"  -A OTPKNOCK -p tcp -m multiport --dports 22 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT -m comment --comment otpknock:" + plan.Digest(),
			"Sets otpknock4, otpknock6: 1 grant.",
			"SOURCE      SERVICE  LEFT",
			"198.18.0.2  tcp/22   20s",
		}},
		{"a service forwarded to a container", func() { s.fw.Setup(fwd) }, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 8 IPv4 and 8 IPv6 rules, current; knock logging on.",
			"Chain OTPKNOCK-FWD (services forwarded to containers): 4 IPv4 and 4 IPv6 rules.",
			"  -A OTPKNOCK-FWD -p tcp -m conntrack --ctstate DNAT --ctorigdstport 8080 -m set --match-set otpknock4-tcp-8080 src -j ACCEPT -m comment --comment otpknock:" + fwd.ForwardDigest(),
			"Sets otpknock4, otpknock6: 1 grant.",
		}},
		{"server stopped", func() { s.fw.Setup(plan); s.fw.Close(plan) }, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 6 IPv4 and 6 IPv6 rules, current; knock logging off: no server is reading knocks, protected ports stay closed.",
		}},
		{"installed from another config", func() { s.fw.Setup(other) }, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 10 IPv4 and 10 IPv6 rules, differs from the config (the server updates it at start or reload); knock logging on.",
		}},
		{"locked", func() { s.fw.Setup(plan.Lock()) }, []string{"firewall", "status"}, []string{
			"Chain OTPKNOCK: 4 IPv4 and 4 IPv6 rules, locked (otpknockd firewall lock: the protected ports closed, the server not started); knock logging off: no server is reading knocks, protected ports stay closed.",
		}},
		{"remove", func() {}, []string{"firewall", "remove"}, []string{
			"Removed the OTPKNOCK and OTPKNOCK-FWD chains, their jumps and otpknock's sets (grants, prefixes, forwarded services and the pre-filter's).",
		}},
		{"removed", func() {}, []string{"firewall", "status"},
			[]string{"Not installed: no OTPKNOCK chain (otpknockd server installs it)."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			s.stdout.mu.Lock()
			s.stdout.b.Reset()
			s.stdout.mu.Unlock()
			if err := s.run(context.Background(), append(tt.args, "-c", s.path)...); err != nil {
				t.Fatal(err)
			}
			out := s.stdout.String()
			rest := out
			for _, line := range tt.want {
				i := strings.Index(rest, line+"\n")
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", line, out)
				}
				rest = rest[i+len(line):]
			}
		})
	}
	if got, want := s.fw.String(), "installed=false nflog=false setups=5"; got != want {
		t.Errorf("after remove: %q, want %q", got, want)
	}
}

// TestFirewallLock runs firewall lock on the fake firewall: it closes
// the protected ports without secrets or state, leaves the server's
// intact firewall alone, and the server's start replaces it.
func TestFirewallLock(t *testing.T) {
	s := newFakeServer(t)
	cfg, err := config.Load(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(cfg.SecretsDir); err != nil { // no secret needed
		t.Fatal(err)
	}
	plan := daemon.PlanFor(cfg, s.fw)
	tests := []struct {
		name  string
		setup func()
		out   string
		fw    string
	}{
		{"nothing installed", func() {}, "Locked: tcp/22 closed to everyone without a grant (chain OTPKNOCK, no knock logging until the server starts).\n",
			"installed=true nflog=false setups=1\nlock tcp/22"},
		{"locked already", func() {}, "Locked: tcp/22 closed to everyone without a grant (chain OTPKNOCK, no knock logging until the server starts).\n",
			"installed=true nflog=false setups=1\nlock tcp/22"},
		{"the server's firewall intact", func() { s.fw.Setup(plan) }, "The server's firewall is installed and intact: tcp/22 stays closed without a grant.\n",
			"installed=true nflog=true setups=2"},
		{"the server stopped", func() { s.fw.Close(plan) }, "Locked: tcp/22 closed to everyone without a grant (chain OTPKNOCK, no knock logging until the server starts).\n",
			"installed=true nflog=false setups=3\nlock tcp/22"},
		{"the server's jump flushed", func() { s.fw.Setup(plan); s.fw.FlushInput() }, "Locked: tcp/22 closed to everyone without a grant (chain OTPKNOCK, no knock logging until the server starts).\n",
			"installed=true nflog=false setups=5\nlock tcp/22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			s.stdout.mu.Lock()
			s.stdout.b.Reset()
			s.stdout.mu.Unlock()
			if err := s.run(context.Background(), "firewall", "lock", "-c", s.path); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.out, s.stdout.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.fw, s.fw.String()); diff != "" {
				t.Errorf("firewall (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServerStartFailsLocked starts the server on fakes in each way a
// start fails after the config is read: the protected ports end locked.
func TestServerStartFailsLocked(t *testing.T) {
	boom := errors.New("nflog group 4711 taken")
	tests := []struct {
		name  string
		setup func(t *testing.T, s *fakeServer, env *Env)
	}{
		{"secret readable by its group", func(t *testing.T, s *fakeServer, _ *Env) {
			if err := os.Chmod(filepath.Join(filepath.Dir(s.path), "secrets", "alice.key"), 0o640); err != nil {
				t.Fatal(err)
			}
		}},
		{"missing secret", func(t *testing.T, s *fakeServer, _ *Env) {
			if err := os.Remove(filepath.Join(filepath.Dir(s.path), "secrets", "alice.key")); err != nil {
				t.Fatal(err)
			}
		}},
		{"broken state file", func(t *testing.T, s *fakeServer, _ *Env) {
			if err := os.WriteFile(filepath.Join(filepath.Dir(s.path), "state.json"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"NFLOG group taken", func(t *testing.T, s *fakeServer, env *Env) {
			env.Packets = func(uint16) (listener.Source, error) { return nil, boom }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t)
			env := s.env()
			tt.setup(t, s, &env)
			if err := Run(context.Background(), []string{"server", "-c", s.path}, env); err == nil {
				t.Fatal("the server started")
			}
			if got, want := s.fw.String(), "installed=true nflog=false setups=1\nlock tcp/22"; got != want {
				t.Errorf("firewall after the failed start:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
