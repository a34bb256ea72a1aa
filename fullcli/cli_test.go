package fullcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender"
)

// harness runs commands in process against a temporary directory.
type harness struct {
	t         *testing.T
	dir       string
	clock     *clock.Fake
	env       map[string]string
	writer    sender.Writer
	prober    sender.Prober
	realClock bool
	// systemctl and signal stand for systemctl and kill(2): no test runs
	// the real ones. The default has no otpknock.service and signals
	// nothing.
	systemctl func(args ...string) error
	signal    func(pid int, sig os.Signal) error
	// listening stands for the host's serving sockets: none by default.
	listening map[derive.Knock]bool
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, dir: dir, clock: clock.NewFake(time.Unix(1_800_000_017, 0)),
		env:       map[string]string{"OTPKNOCK_CLIENT_CONFIG": filepath.Join(dir, "client", "client.yaml")},
		systemctl: func(...string) error { return errors.New("exit status 3") },
		signal:    func(int, os.Signal) error { return errors.New("no process") }}
}

func (h *harness) run(stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	var c clock.Clock = h.clock
	if h.realClock {
		c = clock.System{}
	}
	err = Run(context.Background(), args, Env{Env: cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return h.env[k] }, Clock: c, Version: "test",
		Writer: h.writer, Prober: h.prober}, Systemctl: h.systemctl, Signal: h.signal,
		Listening: func() (map[derive.Knock]bool, error) { return h.listening, nil },
	})
	return out.String(), errb.String(), err
}

func (h *harness) mustRun(stdin string, args ...string) string {
	h.t.Helper()
	out, _, err := h.run(stdin, args...)
	if err != nil {
		h.t.Fatalf("otpknock %s: %v", strings.Join(args, " "), err)
	}
	return out
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
	if st, err := os.Stat(h.path("alice.png")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("QR PNG: %v, mode %v", err, st)
	}

	h.mustRun("", "import", h.path("alice.png"))           // from the QR code
	h.mustRun(bobURI+"\n", "import", "-", "--name", "bob") // pasted on stdin

	for _, tc := range []struct{ profile, user string }{{"gw1", "alice"}, {"bob", "bob"}} {
		for _, at := range []time.Time{h.clock.Now(), h.clock.Now().Add(13 * time.Second), h.clock.Now().Add(time.Hour)} {
			h.clock.Set(at)
			var got struct {
				Step     uint64   `json:"step"`
				Sequence []string `json:"sequence"`
			}
			if err := json.Unmarshal([]byte(h.mustRun("", "show", tc.profile, "--json")), &got); err != nil {
				t.Fatal(err)
			}
			want := serverSequence(t, cfg, tc.user, at, netip.Addr{})
			if diff := cmp.Diff(want, got.Sequence); diff != "" {
				t.Errorf("%s at %v: client sequence (-server +client):\n%s", tc.profile, at, diff)
			}
			if got.Step != derive.Step(at, 30*time.Second) {
				t.Errorf("step %d, want %d", got.Step, derive.Step(at, 30*time.Second))
			}
		}
	}
	list := h.mustRun("", "profiles")
	for _, s := range []string{"gw1", "alice@gw1", "tcp/22,udp/1194", "bob@gw1"} {
		if !strings.Contains(list, s) {
			t.Errorf("profiles output lacks %q:\n%s", s, list)
		}
	}
	if strings.Contains(list, "secret") || strings.Contains(h.mustRun("", "profiles", "--json"), "secret") {
		t.Errorf("profiles shows secrets")
	}
	users := h.mustRun("", "user", "list", "-c", cfg)
	if !strings.Contains(users, "alice") || !strings.Contains(users, "ok (256 bits)") {
		t.Errorf("user list:\n%s", users)
	}
	h.mustRun("", "user", "remove", "bob", "-c", cfg)
	if _, err := os.Stat(h.path("etc/secrets/bob.key")); !os.IsNotExist(err) {
		t.Errorf("bob's secret survived user remove: %v", err)
	}
}

func TestShow(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	uri := uriRE.FindString(h.mustRun("", "user", "add", "alice", "-c", cfg, "--no-qr"))
	h.mustRun(uri, "import", "-")
	want := serverSequence(t, cfg, "alice", h.clock.Now(), netip.Addr{})

	out, status, err := h.run("", "show")
	if err != nil {
		t.Fatal(err)
	}
	if server := h.mustRun("", "user", "show", "alice", "-c", cfg); server != out {
		t.Errorf("user show (server side):\n%s\nshow (client side):\n%s", server, out)
	}
	// The sequence alone on stdout, for pipes; the step on stderr.
	if wantOut := strings.Join(want, " ") + "\n"; out != wantOut {
		t.Errorf("show:\n%s\nwant:\n%s", out, wantOut)
	}
	if wantStatus := "step 60000000, 13s left\n"; status != wantStatus {
		t.Errorf("show's status on stderr: %q, want %q", status, wantStatus)
	}
	knock := h.mustRun("", "show", "198.18.0.1", "--format", "knock")
	first := strings.SplitN(knock, "\n", 2)[0]
	var conv []string
	for _, k := range want {
		proto, port, _ := strings.Cut(k, "/")
		conv = append(conv, port+":"+proto)
	}
	if first != strings.Join(conv, " ") {
		t.Errorf("--format knock: %q, want %q", first, strings.Join(conv, " "))
	}
	h.clock.Advance(-40 * time.Second)
	shifted := h.mustRun("", "show", "--time-offset", "40s")
	if shifted != out {
		t.Errorf("--time-offset 40s with the clock 40s behind:\n%s\nwant:\n%s", shifted, out)
	}
}

func TestBoundAndICMP(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "2001:2::1")
	uri := uriRE.FindString(h.mustRun("", "user", "add", "carol", "-c", cfg, "--bind-source", "--no-qr"))
	h.mustRun(uri, "import", "-")
	if _, _, err := h.run("", "show"); err == nil || !strings.Contains(err.Error(), "--public-ip") {
		t.Errorf("bound profile without --public-ip: %v", err)
	}
	if alias := h.mustRun("", "show", "--source", "2001:2::10"); alias != h.mustRun("", "show", "--public-ip", "2001:2::10") {
		t.Errorf("show --source (the former name) differs from --public-ip")
	}
	a := h.mustRun("", "show", "--public-ip", "2001:2::10")
	b := h.mustRun("", "show", "--source", "2001:2::11")
	if a == b {
		t.Errorf("two sources gave the same bound sequence: %s", a)
	}
	if server := h.mustRun("", "user", "show", "carol", "-c", cfg, "--source", "2001:2::10"); server != a {
		t.Errorf("bound: user show %q, client show %q", server, a)
	}
	if _, _, err := h.run("", "user", "show", "carol", "-c", cfg); err == nil || !strings.Contains(err.Error(), "--source") {
		t.Errorf("user show of a bound user without --source: %v", err)
	}
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(data, []byte("protocols: [tcp, udp]"), []byte("protocols: [icmp]"), 1), 0o600)
	uri2 := uriRE.FindString(h.mustRun("", "user", "add", "dave", "-c", cfg, "--no-qr"))
	h.mustRun(uri2, "import", "-", "--name", "ping")
	if out := h.mustRun("", "show", "ping"); !strings.HasPrefix(out, "icmp/") {
		t.Errorf("icmp profile: %s", out)
	}
	if _, _, err := h.run("", "show", "ping", "--format", "knock"); err == nil || !strings.Contains(err.Error(), "knock client cannot send") {
		t.Errorf("icmp with --format knock: %v", err)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1")
	before, _ := os.ReadFile(cfg)
	junk := h.path("junk.png")
	os.WriteFile(junk, []byte("\x89PNG\r\n\x1a\nnot really"), 0o600)
	text := h.path("text.txt")
	os.WriteFile(text, []byte("hello"), 0o600)
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
		{"missing config", "", []string{"user", "list", "-c", h.path("nope.yaml")}, "otpknock init"},
		{"init without id", "", []string{"init", "--config", h.path("x.yaml")}, "server-id"},
		{"extra argument", "", []string{"show", "a", "b"}, "at most one PROFILE"},
		{"unknown flag", "", []string{"show", "--bogus"}, "unknown flag: --bogus"},
		{"bad format", "", []string{"show", "--format", "xml"}, "--format"},
		{"no profiles", "", []string{"show"}, "no profiles"},
		{"bad uri on stdin", "otpauth://totp/x?secret=AAAA", []string{"import", "-"}, "provisioning URI"},
		{"not a uri", "", []string{"import", text}, "neither an otpauth:// URI nor a PNG"},
		{"bad png", "", []string{"import", junk}, "not a PNG"},
		{"missing file", "", []string{"import", h.path("nofile")}, "reading"},
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
	if _, err := os.Stat(h.env["OTPKNOCK_CLIENT_CONFIG"]); !os.IsNotExist(err) {
		t.Errorf("failed imports created the profile store")
	}
}
