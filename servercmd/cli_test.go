package servercmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/cli/clitest"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/qr"
)

// harness runs otpknockd's commands in process against a temporary
// directory.
type harness struct {
	t         *testing.T
	dir       string
	clock     *clocktest.Fake
	env       map[string]string
	realClock bool
	// systemctl and signal stand for systemctl and kill(2): no test runs
	// the real ones. The default has no otpknock.service and signals
	// nothing.
	systemctl func(args ...string) error
	signal    func(pid int, sig os.Signal) error
	// listening stands for the host's serving sockets: none by default.
	listening map[derive.Knock]bool
	// service stands for the otpknock account: none by default.
	service *config.Account
	// terminal stands for the terminals: none by default; columns of
	// Stdout when it is one.
	stdinTerminal bool
	stdoutColumns int
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, dir: dir, clock: clocktest.NewFake(time.Unix(1_800_000_017, 0)),
		env:       map[string]string{"OTPKNOCK_CLIENT_CONFIG": filepath.Join(dir, "client", "client.yaml")},
		systemctl: func(...string) error { return errors.New("exit status 3") },
		signal:    func(int, os.Signal) error { return errors.New("no process") }}
}

func (h *harness) run(stdin string, args ...string) (stdout, stderr string, err error) {
	return h.line(stdin, args...).Parts()
}

// line runs a command line through Run on the harness's directory,
// clock, systemctl, signals, sockets, service user and terminals.
func (h *harness) line(stdin string, args ...string) clitest.Result {
	entry := func(ctx context.Context, args []string, env cli.Env) error {
		return Run(ctx, args, Env{Env: env, Systemctl: h.systemctl, Signal: h.signal,
			Listening: func() (map[derive.Knock]bool, error) { return h.listening, nil },
			Service:   func() (*config.Account, error) { return h.service, nil },
			Terminal:  h.terminal(env.Stdout),
		})
	}
	return clitest.Run(entry, clitest.Env(h.env, h.clock, h.realClock), stdin, args...)
}

// terminal reports the harness's terminals: stdin when stdinTerminal,
// stdout when stdoutColumns is set.
func (h *harness) terminal(stdout io.Writer) func(v any) (int, bool) {
	return func(v any) (int, bool) {
		switch {
		case v == stdout && h.stdoutColumns > 0:
			return h.stdoutColumns, true
		case v != stdout && h.stdinTerminal:
			return 0, true
		}
		return 0, false
	}
}

func (h *harness) mustRun(stdin string, args ...string) string {
	h.t.Helper()
	return h.line(stdin, args...).Must(h.t)
}

func (h *harness) path(p string) string { return filepath.Join(h.dir, p) }

var uriRE = regexp.MustCompile(`otpauth://\S+`)

// serverSequence derives what the server expects from its config and the
// user's secret file, at a time, from src (zero unless source-bound).
func serverSequence(t *testing.T, cfgPath, user string, at time.Time, src netip.Addr) []string {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := cfg.ReadSecret(user)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, derive.Step(at, cfg.Params.Period), src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

// withServer writes a config for server gw1 at 198.18.0.1 with user
// alice (tcp/22); the fake clock sits 10 s into step 60000000.
func withServer(t *testing.T) *harness {
	h := newHarness(t)
	h.clock.Set(derive.StepStart(60000000, 30*time.Second).Add(10 * time.Second))
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload")
	return h
}

// TestProvisioningRoundTrip: the URI and the QR code PNG user add
// writes carry the account the server derives from: the same sequence
// at any time.
func TestProvisioningRoundTrip(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("etc/config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	h.mustRun("", "user", "add", "alice", "-c", cfg, "--open", "tcp/22,udp/1194", "--qr-png", h.path("alice.png"))
	out := h.mustRun("", "user", "add", "bob", "-c", cfg, "--open", "tcp/2222", "--no-qr")
	bobURI := uriRE.FindString(out)
	if bobURI == "" {
		t.Fatalf("user add printed no URI:\n%s", out)
	}
	st, err := os.Stat(h.path("alice.png"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("QR PNG: %v, mode %v", err, st)
	}
	png, _ := os.ReadFile(h.path("alice.png"))
	aliceURI, err := qr.DecodePNG(png)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ uri, user, open string }{{aliceURI, "alice", "tcp/22,udp/1194"}, {bobURI, "bob", "tcp/2222"}} {
		acct, err := provision.ParseURI(tc.uri)
		if err != nil {
			t.Fatalf("%s's URI: %v", tc.user, err)
		}
		if acct.User != tc.user || acct.ServerID != "gw1" || acct.Host != "198.18.0.1" || derive.Knocks(acct.Open).String() != tc.open {
			t.Errorf("%s's URI: user %s, server %s, host %s, open %s", tc.user, acct.User, acct.ServerID, acct.Host, derive.Knocks(acct.Open))
		}
		for _, at := range []time.Time{h.clock.Now(), h.clock.Now().Add(13 * time.Second), h.clock.Now().Add(time.Hour)} {
			ks, err := derive.Sequence(acct.Secret, acct.ServerID, acct.Params, derive.Step(at, acct.Params.Period), netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range ks {
				got = append(got, k.String())
			}
			if diff := cmp.Diff(serverSequence(t, cfg, tc.user, at, netip.Addr{}), got); diff != "" {
				t.Errorf("%s at %v: sequence (-server +URI):\n%s", tc.user, at, diff)
			}
		}
	}
	users := h.mustRun("", "user", "list", "-c", cfg)
	if !strings.Contains(users, "alice") || !strings.Contains(users, "ok (256 bits)") {
		t.Errorf("user list:\n%s", users)
	}
	h.mustRun("", "user", "remove", "bob", "-c", cfg, "--yes")
	if _, err := os.Stat(h.path("etc/secrets/bob.key")); !os.IsNotExist(err) {
		t.Errorf("bob's secret stayed in place after user remove: %v", err)
	}
}

// TestUserShow: user show prints the sequence the server expects now,
// alone on stdout, the step on stderr; a bound user's needs --source.
func TestUserShow(t *testing.T) {
	h := withServer(t)
	cfg := h.path("config.yaml")
	out, status, err := h.run("", "user", "show", "alice", "-c", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(serverSequence(t, cfg, "alice", h.clock.Now(), netip.Addr{}), " ") + "\n"; out != want {
		t.Errorf("user show:\n%s\nwant:\n%s", out, want)
	}
	if want := "step 60000000, 20s left\n"; status != want {
		t.Errorf("user show's status on stderr: %q, want %q", status, want)
	}
	h.mustRun("", "user", "add", "carol", "-c", cfg, "--bind-source", "--no-qr", "--no-reload")
	src := netip.MustParseAddr("198.18.0.10")
	if got, want := h.mustRun("", "user", "show", "carol", "-c", cfg, "--source", "198.18.0.10"), strings.Join(serverSequence(t, cfg, "carol", h.clock.Now(), src), " ")+"\n"; got != want {
		t.Errorf("bound: user show %q, want %q", got, want)
	}
	if _, _, err := h.run("", "user", "show", "carol", "-c", cfg); err == nil || !strings.Contains(err.Error(), "--source") {
		t.Errorf("user show of a bound user without --source: %v", err)
	}
	if _, _, err := h.run("", "user", "show", "alice", "-c", cfg, "--source", "198.18.0.10"); err == nil || !strings.Contains(err.Error(), "not source-bound") {
		t.Errorf("user show --source of an unbound user: %v", err)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1")
	before, _ := os.ReadFile(cfg)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no host", "", []string{"user", "add", "alice", "-c", cfg}, "no host to knock"},
		{"bad open", "", []string{"user", "add", "alice", "-c", cfg, "--host", "h", "--open", "tcp/0"}, "open[0]"},
		{"bad from", "", []string{"user", "add", "alice", "-c", cfg, "--host", "h", "--from", "1.2.3.4/40"}, "from[0]"},
		{"bad user name", "", []string{"user", "add", "Alice!", "-c", cfg, "--host", "h"}, "name:"},
		{"short secret", "", []string{"user", "add", "alice", "-c", cfg, "--host", "h", "--secret-bytes", "8"}, "--secret-bytes"},
		{"missing config", "", []string{"user", "list", "-c", h.path("nope.yaml")}, "otpknockd init"},
		{"init without id", "", []string{"init", "--config", h.path("x.yaml")}, "server-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := h.run(tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if got := cli.ExitCode(err); got != cli.ExitUsage {
				t.Errorf("exit code %d, want %d", got, cli.ExitUsage)
			}
		})
	}
	after, _ := os.ReadFile(cfg)
	if !bytes.Equal(before, after) {
		t.Errorf("failed commands changed the config")
	}
	if entries, _ := os.ReadDir(h.path("secrets")); len(entries) != 0 {
		t.Errorf("failed user adds left secrets: %v", entries)
	}
}

// in runs a command line with no stdin, {dir} standing for the
// harness's directory.
func (h *harness) in(args ...string) clitest.Result {
	return h.line("", clitest.InDir(h.dir, args)...)
}
