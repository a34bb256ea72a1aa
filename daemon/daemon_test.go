package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/listener/listenertest"
)

func setupConfig(t *testing.T) (*config.Config, []byte) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if _, err := config.WriteInit(path, config.InitOptions{ServerID: "gw1", Host: "198.18.0.1", StateFile: filepath.Join(dir, "state", "state.json")}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.AddUser(path, config.NewUser{Name: "alice", Open: []string{"tcp/22", "udp/1194"}})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("alice's secret, 32 bytes long!!!")
	if err := cfg.WriteSecret("alice", secret); err != nil {
		t.Fatal(err)
	}
	return cfg, secret
}

type running struct {
	d      *Daemon
	src    *listenertest.Fake
	fw     *firewalltest.Fake
	clock  *clocktest.Fake
	log    *netnstest.Buffer
	cancel context.CancelFunc
	done   chan error
}

// newDaemon builds a daemon on fakes, not yet running.
func newDaemon(t *testing.T, cfg *config.Config, c *clocktest.Fake, fw *firewalltest.Fake) *running {
	t.Helper()
	r := &running{src: &listenertest.Fake{}, fw: fw, clock: c, log: &netnstest.Buffer{}, done: make(chan error, 1)}
	d, err := New(cfg, Deps{Source: r.src, Firewall: fw, Clock: c, Log: slog.New(slog.NewTextHandler(r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	return r
}

// start runs a daemon on fakes and returns once its housekeeping and
// healing tickers exist, so that moving the fake clock ticks them.
func start(t *testing.T, cfg *config.Config, c *clocktest.Fake, fw *firewalltest.Fake) *running {
	t.Helper()
	r := newDaemon(t, cfg, c, fw)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	if err := c.WaitTickers(testContext(t), 2); err != nil {
		t.Fatalf("the daemon's tickers: %v", err)
	}
	return r
}

// testContext bounds a wait that only a bug makes long.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// scrape returns the metrics page.
func (r *running) scrape(t *testing.T, path string) string {
	rec := httptest.NewRecorder()
	r.d.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	return rec.Body.String()
}

// knock feeds the knocks from src and returns once the daemon handled
// them.
func (r *running) knock(t *testing.T, src netip.Addr, ks []derive.Knock) {
	t.Helper()
	for _, k := range ks {
		r.src.Inject(listener.Packet{Src: src, Knock: k})
	}
	if err := r.src.Drain(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

// housekeep moves the clock two housekeeping intervals and returns once
// the first tick's housekeeping is done: the fake clock hands a tick
// over only when the goroutine is back waiting for it, so the second
// tick is taken only after the first one's work.
func (r *running) housekeep() {
	r.clock.Advance(housekeepingEvery)
	r.clock.Advance(housekeepingEvery)
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
}

func TestDaemon(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := start(t, cfg, c, fw)
	client, other := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, 60000000, netip.Addr{})
	r.knock(t, client, seq)
	r.knock(t, other, seq) // replay from elsewhere
	if got, want := fw.String(), "installed=true nflog=true setups=1\ngrant 198.18.0.2 tcp/22 30s\ngrant 198.18.0.2 udp/1194 30s"; got != want {
		t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
	}
	metrics := r.scrape(t, "/metrics")
	var tcp, udp int
	for _, k := range seq {
		if k.Proto == derive.TCP {
			tcp += 2
		} else {
			udp += 2
		}
	}
	for _, want := range []string{
		`otpknock_sequences_total{outcome="grant"} 1`, `otpknock_sequences_total{outcome="replay"} 1`,
		`otpknock_sequences_total{outcome="refused"} 0`, fmt.Sprintf(`otpknock_packets_total{proto="tcp"} %d`, tcp),
		fmt.Sprintf(`otpknock_packets_total{proto="udp"} %d`, udp), "otpknock_sources_tracked ", "otpknock_nflog_lost_total 0",
		"otpknock_step_precompute_seconds ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if r.scrape(t, "/healthz") != "ok\n" {
		t.Errorf("healthz")
	}
	r.stop(t)
	logs := r.log.String()
	for _, s := range []string{
		`msg=grant src=198.18.0.2 user=alice step=60000000 ports=tcp/22,udp/1194 timeout=30s`,
		`level=WARN msg=replay src=198.18.0.3 user=alice step=60000000`,
		`msg=stopped`,
	} {
		if !strings.Contains(logs, s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
	if strings.Contains(logs, derive.EncodeSecret(secret)) || strings.Count(logs, "\n") != 4 {
		t.Errorf("log must be started, grant, replay, stopped and no secret:\n%s", logs)
	}
	if !strings.Contains(fw.String(), "nflog=false") {
		t.Errorf("after stop the NFLOG rules must be gone (fail closed): %s", fw.String())
	}
	used, _, err := LoadState(cfg.StateFile, cfg.Params.Period)
	if err != nil || used.Steps(cfg.Params.Period)["alice"] != 60000000 {
		t.Fatalf("state: %v, %v", used, err)
	}
	if st, _ := os.Stat(cfg.StateFile); st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %04o", st.Mode().Perm())
	}

	// A restart does not accept the used step again, and reinstalls once.
	r = start(t, cfg, c, fw)
	r.knock(t, client, seq)
	r.stop(t)
	if !strings.Contains(r.log.String(), "msg=replay src=198.18.0.2") || !strings.Contains(fw.String(), "setups=2") {
		t.Errorf("after restart:\n%s\n%s", r.log.String(), fw.String())
	}
}

func TestReload(t *testing.T) {
	cfg, _ := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := start(t, cfg, c, fw)

	// bob is added without a secret: the reload fails and keeps the old config.
	if _, err := config.AddUser(cfg.Path, config.NewUser{Name: "bob", Open: []string{"tcp/2222"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Reload(); err == nil || !strings.Contains(err.Error(), `secret of user "bob"`) {
		t.Errorf("Reload without bob's secret = %v, want an error naming it", err)
	}
	if !strings.Contains(r.log.String(), "config reload failed, keeping the old config") || !strings.Contains(fw.String(), "setups=1") {
		t.Errorf("failed reload:\n%s\n%s", r.log.String(), fw.String())
	}
	bob := []byte("bob's secret is also 32 bytes!!!")
	if err := cfg.WriteSecret("bob", bob); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.log.String(), `msg="config reloaded" users=2`) || !strings.Contains(fw.String(), "setups=2") {
		t.Errorf("reload:\n%s\n%s", r.log.String(), fw.String())
	}
	seq, _ := derive.Sequence(bob, "gw1", cfg.Params, 60000000, netip.Addr{})
	r.knock(t, netip.MustParseAddr("2001:2::2"), seq)
	r.stop(t)
	if !strings.Contains(fw.String(), "grant 2001:2::2 tcp/2222 30s") {
		t.Errorf("bob after reload: %s\n%s", fw.String(), r.log.String())
	}
	if err := r.d.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Run returned = %v, want ErrClosed", err)
	}
	if !strings.Contains(fw.String(), "nflog=false") {
		t.Errorf("a reload after Close reinstalled the NFLOG rules: %s", fw.String())
	}
}

// TestReloadKeepsGrantsMadeDuringIt checks that a step used while a
// reload built its matcher stays used after the swap.
func TestReloadKeepsGrantsMadeDuringIt(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := newDaemon(t, cfg, c, fw)
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, 60000000, netip.Addr{})
	client := netip.MustParseAddr("198.18.0.2")
	feed := func(src netip.Addr) {
		for _, k := range seq {
			r.d.handle(listener.Packet{Src: src, Knock: k})
		}
	}
	// The grant lands between the reload's build and its swap.
	g, err := r.d.install()
	if err != nil {
		t.Fatal(err)
	}
	feed(client)
	r.d.swap(g)
	feed(client)                            // a copy: still known as the grant's
	feed(netip.MustParseAddr("198.18.0.3")) // from elsewhere: a replay
	if err := r.d.Close(); err != nil {
		t.Fatal(err)
	}
	logs := r.log.String()
	if strings.Count(logs, "msg=grant") != 1 || !strings.Contains(logs, "msg=duplicate src=198.18.0.2") || !strings.Contains(logs, "msg=replay src=198.18.0.3") {
		t.Errorf("want one grant, then a duplicate and a replay after the reload:\n%s", logs)
	}
}

func TestLoadStateRefusesGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(path, []byte("{}"), 0o600)
	if _, _, err := LoadState(path, 30*time.Second); err == nil || !strings.Contains(err.Error(), "refusing to start") {
		t.Errorf("LoadState(garbage) = %v", err)
	}
}

func TestMetricsServe(t *testing.T) {
	cfg, _ := setupConfig(t)
	c := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	r := newDaemon(t, cfg, c, &firewalltest.Fake{Clock: c})
	defer r.d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Metrics().Serve(ctx, ln) }()
	// The listener queues the connection until Serve accepts it.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok\n" {
		t.Errorf("healthz over HTTP: %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if err := r.d.Metrics().ListenAndServe(context.Background(), "198.18.0.1:99999"); err == nil || !strings.HasPrefix(err.Error(), "metrics_listen: ") {
		t.Errorf("ListenAndServe on a bad address = %v, want a metrics_listen error", err)
	}
}

// TestPrepareAhead checks that housekeeping builds the next step's window
// before the step begins, off the packet path, and that knocks of that
// step then match.
func TestPrepareAhead(t *testing.T) {
	cfg, secret := setupConfig(t)
	next := derive.StepStart(60000001, 30*time.Second)
	c := clocktest.NewFake(next.Add(-3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := start(t, cfg, c, fw)
	defer r.stop(t)
	ready := func() bool {
		r.d.mu.Lock()
		defer r.d.mu.Unlock()
		return !r.d.m.NeedsNext(c.Now(), prepareLead)
	}
	if ready() {
		t.Fatalf("the next step's window is ready before any housekeeping")
	}
	r.housekeep()
	if !ready() {
		t.Fatalf("housekeeping did not build the next step's window")
	}
	c.Advance(time.Second)
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, 60000001, netip.Addr{})
	r.knock(t, netip.MustParseAddr("198.18.0.2"), seq)
	if got, want := fw.String(), "installed=true nflog=true setups=1\ngrant 198.18.0.2 tcp/22 30s\ngrant 198.18.0.2 udp/1194 30s"; got != want {
		t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
	}
}

// TestSourceFailure checks that a failing source ends Run with its error,
// closed (fail closed) and with the used steps saved.
func TestSourceFailure(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := newDaemon(t, cfg, c, fw)
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, 60000000, netip.Addr{})
	for _, k := range seq {
		r.src.Inject(listener.Packet{Src: netip.MustParseAddr("198.18.0.2"), Knock: k})
	}
	boom := errors.New("netlink socket gone")
	r.src.Fail(boom)
	err := r.d.Run(context.Background())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "reading knocks: ") {
		t.Fatalf("Run = %v, want reading knocks: %v", err, boom)
	}
	if got, want := fw.String(), "installed=true nflog=false setups=1\ngrant 198.18.0.2 tcp/22 30s\ngrant 198.18.0.2 udp/1194 30s"; got != want {
		t.Errorf("firewall:\n%s\nwant:\n%s", got, want)
	}
	if used, _, err := LoadState(cfg.StateFile, cfg.Params.Period); err != nil || used.Steps(cfg.Params.Period)["alice"] != 60000000 {
		t.Errorf("state after the failure: %v, %v", used, err)
	}
	if err := r.d.Close(); err != nil {
		t.Errorf("a second Close = %v, want nil", err)
	}
}
