package servercmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/sender"
)

func TestExitCodeOfErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, cli.ExitOK},
		{"runtime failure", errors.New("netlink socket gone"), cli.ExitFailure},
		{"not opened", fmt.Errorf("gw1: %w", sender.ErrStillClosed), cli.ExitNotOpened},
		{"usage", cli.Usage(errors.New("--format: bad")), cli.ExitUsage},
		{"usage wrapped further", fmt.Errorf("context: %w", cli.Usage(os.ErrNotExist)), cli.ExitUsage},
		{"a missing file alone is no usage error", os.ErrNotExist, cli.ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cli.ExitCode(tt.err); got != tt.want {
				t.Errorf("cli.ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if cli.Usage(nil) != nil {
		t.Errorf("cli.Usage(nil) is not nil")
	}
}

// TestExitCodes runs real commands on fakes and checks their exit codes:
// 2 for usage and configuration, 1 for runtime failures.
func TestExitCodes(t *testing.T) {
	boom := errors.New("netlink socket gone")
	tests := []struct {
		name  string
		setup func(t *testing.T, s *fakeServer) // before the run
		args  func(s *fakeServer) []string
		want  int
		msg   string // in the error
	}{
		{"unknown flag", nil, func(s *fakeServer) []string { return []string{"server", "--bogus", "-c", s.path} }, cli.ExitUsage, "unknown flag: --bogus"},
		{"unknown command", nil, func(*fakeServer) []string { return []string{"serve"} }, cli.ExitUsage, `unknown command "serve"`},
		{"extra argument", nil, func(s *fakeServer) []string { return []string{"server", "now", "-c", s.path} }, cli.ExitUsage, "want no arguments"},
		{"firewall extra argument", nil, func(s *fakeServer) []string { return []string{"firewall", "status", "x", "-c", s.path} }, cli.ExitUsage, "want no arguments"},
		{"missing config", nil, func(s *fakeServer) []string { return []string{"server", "-c", s.path + ".missing"} }, cli.ExitUsage, "does not exist"},
		{"bad config", func(t *testing.T, s *fakeServer) { appendFile(t, s.path, "skew: many\n") },
			func(s *fakeServer) []string { return []string{"server", "-c", s.path} }, cli.ExitUsage, "skew"},
		{"missing secret", func(t *testing.T, s *fakeServer) {
			os.Remove(strings.TrimSuffix(s.path, "config.yaml") + "secrets/alice.key")
		},
			func(s *fakeServer) []string { return []string{"server", "-c", s.path} }, cli.ExitUsage, `secret of user "alice"`},
		{"bad state file", func(t *testing.T, s *fakeServer) {
			os.WriteFile(strings.TrimSuffix(s.path, "config.yaml")+"state.json", []byte("{}"), 0o600)
		},
			func(s *fakeServer) []string { return []string{"server", "-c", s.path} }, cli.ExitUsage, "refusing to start"},
		{"bad log format", nil, func(s *fakeServer) []string { return []string{"server", "-c", s.path, "--log-format", "xml"} }, cli.ExitUsage, "--log-format"},
		{"source fails while running", func(t *testing.T, s *fakeServer) { s.src.Fail(boom) },
			func(s *fakeServer) []string { return []string{"server", "-c", s.path} }, cli.ExitFailure, "reading knocks: netlink socket gone"},
		{"firewall install fails", func(t *testing.T, s *fakeServer) { s.fw.SetupErr = boom },
			func(s *fakeServer) []string { return []string{"server", "-c", s.path} }, cli.ExitFailure, "installing the firewall"},
		{"firewall status needs privileges", func(t *testing.T, s *fakeServer) { s.fw.StatusErr = fmt.Errorf("listing: %w", fs.ErrPermission) },
			func(s *fakeServer) []string { return []string{"firewall", "status", "-c", s.path} }, cli.ExitUsage, "permission denied"},
		{"firewall status fails", func(t *testing.T, s *fakeServer) { s.fw.StatusErr = boom },
			func(s *fakeServer) []string { return []string{"firewall", "status", "-c", s.path} }, cli.ExitFailure, "netlink socket gone"},
		{"firewall status, missing config", nil, func(s *fakeServer) []string { return []string{"firewall", "status", "-c", s.path + ".missing"} }, cli.ExitOK, ""},
		{"firewall remove, missing config", nil, func(s *fakeServer) []string { return []string{"firewall", "remove", "-c", s.path + ".missing"} }, cli.ExitOK, ""},
		{"firewall lock, bad config", func(t *testing.T, s *fakeServer) { os.WriteFile(s.path, []byte("server_id: gw1\nskew: 99\n"), 0o600) },
			func(s *fakeServer) []string { return []string{"firewall", "lock", "-c", s.path} }, cli.ExitUsage, "skew: 99"},
		{"firewall lock fails", func(t *testing.T, s *fakeServer) { s.fw.SetupErr = boom },
			func(s *fakeServer) []string { return []string{"firewall", "lock", "-c", s.path} }, cli.ExitFailure, "locking the protected ports: netlink socket gone"},
		{"bad firewall check interval", nil, func(s *fakeServer) []string { return []string{"server", "-c", s.path, "--firewall-check", "10ms"} }, cli.ExitUsage, "--firewall-check: 10ms"},
		{"dry run", nil, func(s *fakeServer) []string { return []string{"server", "-c", s.path, "--dry-run"} }, cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			err := s.run(context.Background(), tt.args(s)...)
			if got := cli.ExitCode(err); got != tt.want {
				t.Errorf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
			if tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)) {
				t.Errorf("err = %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

// TestServerOpeningFails checks that the kernel boundaries' failures to
// open are runtime failures.
func TestServerOpeningFails(t *testing.T) {
	boom := errors.New("no iptables")
	for _, tt := range []struct {
		name string
		env  func(Env) Env
	}{
		{"firewall", func(e Env) Env { e.Firewall = func() (firewall.Backend, error) { return nil, boom }; return e }},
		{"packets", func(e Env) Env { e.Packets = func(uint16) (listener.Source, error) { return nil, boom }; return e }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t)
			err := Run(context.Background(), []string{"server", "-c", s.path}, tt.env(s.env()))
			if !errors.Is(err, boom) || cli.ExitCode(err) != cli.ExitFailure {
				t.Errorf("err = %v (exit %d), want %v and exit 1", err, cli.ExitCode(err), boom)
			}
		})
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
