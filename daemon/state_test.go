package daemon

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/listener"
)

// t0 is a time on a whole minute: a step boundary for 30 s and 60 s steps.
var t0 = time.Unix(1_800_000_000, 0)

// withPeriod returns cfg with its step length set, in memory and in its
// file (for reloads).
func withPeriod(t *testing.T, cfg *config.Config, period time.Duration) *config.Config {
	t.Helper()
	data, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^step: \S+$`).ReplaceAllString(string(data), fmt.Sprintf("step: %ds", period/time.Second))
	if err := os.WriteFile(cfg.Path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Params.Period != period {
		t.Fatalf("the config's step is %v, want %v", c.Params.Period, period)
	}
	return c
}

// knockNow has alice knock her sequence of the step now falls in, with
// cfg's parameters, from src; it returns "grant", "replay" or "" as the
// daemon logged it.
func (r *running) knockNow(t *testing.T, cfg *config.Config, secret []byte, src netip.Addr) string {
	t.Helper()
	step := derive.Step(r.clock.Now(), cfg.Params.Period)
	return r.knockStep(t, cfg, secret, src, step)
}

func (r *running) knockStep(t *testing.T, cfg *config.Config, secret []byte, src netip.Addr, step uint64) string {
	t.Helper()
	seq, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, step, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	before := r.log.String()
	for _, k := range seq {
		r.d.handle(listener.Packet{Src: src, Knock: k})
	}
	added := strings.TrimPrefix(r.log.String(), before)
	for _, kind := range []string{"grant", "replay", "duplicate"} {
		if strings.Contains(added, fmt.Sprintf("msg=%s src=%s user=alice step=%d ", kind, src, step)) {
			return kind
		}
	}
	return ""
}

// TestStepChange changes the step length between runs and in a reload,
// both ways and back: users who knocked before keep knocking (a used
// step kept as a bare number reads as a step decades ahead once the
// step is longer), and each new step is used once.
func TestStepChange(t *testing.T) {
	client := netip.MustParseAddr("198.18.0.2")
	for _, tc := range []struct{ from, to time.Duration }{{30 * time.Second, 60 * time.Second}, {60 * time.Second, 30 * time.Second}} {
		for _, how := range []string{"restart", "reload"} {
			t.Run(fmt.Sprintf("%v to %v and back, %s", tc.from, tc.to, how), func(t *testing.T) {
				cfg, secret := setupConfig(t)
				c := clocktest.NewFake(t0.Add(3 * time.Second))
				fw := &firewalltest.Fake{Clock: c}
				r := start(t, withPeriod(t, cfg, tc.from), c, fw)
				for i, period := range []time.Duration{tc.from, tc.to, tc.from} {
					c.Set(t0.Add(time.Duration(i)*2*time.Minute + 3*time.Second))
					now := withPeriod(t, cfg, period)
					if i > 0 && how == "restart" {
						r.stop(t)
						r = start(t, now, c, fw)
					} else if i > 0 {
						if err := r.d.Reload(); err != nil {
							t.Fatal(err)
						}
					}
					var got []string
					for range 2 {
						got = append(got, r.knockNow(t, now, secret, client))
					}
					if diff := cmp.Diff([]string{"grant", "duplicate"}, got); diff != "" {
						t.Errorf("knocking twice with step %v (-want +got):\n%s\n%s", period, diff, r.log.String())
					}
				}
				r.stop(t)
			})
		}
	}
}

// TestStateMigration reads a version 1 state file (bare step numbers) as
// steps of the configured step, says so once, and writes version 2.
func TestStateMigration(t *testing.T) {
	for _, period := range []time.Duration{30 * time.Second, 60 * time.Second} {
		t.Run(period.String(), func(t *testing.T) {
			cfg, secret := setupConfig(t)
			cfg = withPeriod(t, cfg, period)
			now := t0.Add(3 * time.Second)
			step := derive.Step(now, period)
			os.MkdirAll(filepath.Dir(cfg.StateFile), 0o700)
			v1 := fmt.Sprintf(`{"version":1,"last_step":{"alice":%d,"gone":7}}`, step)
			if err := os.WriteFile(cfg.StateFile, []byte(v1), 0o600); err != nil {
				t.Fatal(err)
			}
			got, legacy, err := LoadState(cfg.StateFile, period)
			if diff := cmp.Diff(Used{"alice": uint64(t0.Unix()), "gone": 7 * uint64(period/time.Second)}, got); diff != "" || !legacy || err != nil {
				t.Errorf("LoadState(version 1) legacy %v, err %v (-want +got):\n%s", legacy, err, diff)
			}
			c := clocktest.NewFake(now)
			r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
			if got := r.knockNow(t, cfg, secret, netip.MustParseAddr("198.18.0.2")); got != "replay" {
				t.Errorf("the step of the version 1 file: %q, want replay", got)
			}
			r.stop(t)
			if n := strings.Count(r.log.String(), "version 1"); n != 1 {
				t.Errorf("the log says %d times that it read version 1, want once:\n%s", n, r.log.String())
			}
			data, _ := os.ReadFile(cfg.StateFile)
			want := fmt.Sprintf("{\n  \"version\": 2,\n  \"last_step_start\": {\n    \"alice\": %d,\n    \"gone\": %d\n  }\n}\n", t0.Unix(), 7*int(period/time.Second))
			if diff := cmp.Diff(want, string(data)); diff != "" {
				t.Errorf("state file after the migration (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCloseKeepsEveryUsedStep checks that Close saves the steps of users
// that are not in the config (loaded from the state file, or removed by
// a reload) along with the current ones: a user removed and added back
// with the same secret cannot replay a step.
func TestCloseKeepsEveryUsedStep(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(t0.Add(3 * time.Second))
	os.MkdirAll(filepath.Dir(cfg.StateFile), 0o700)
	if err := SaveState(cfg.StateFile, Used{"carol": 1_700_000_010}); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
	if got := r.knockNow(t, cfg, secret, netip.MustParseAddr("198.18.0.2")); got != "grant" {
		t.Fatalf("knock: %q, want grant", got)
	}
	if _, err := config.RemoveUser(cfg.Path, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Reload(); err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	got, _, err := LoadState(cfg.StateFile, cfg.Params.Period)
	if diff := cmp.Diff(Used{"alice": uint64(t0.Unix()), "carol": 1_700_000_010}, got); diff != "" || err != nil {
		t.Errorf("state after stop, err %v (-want +got):\n%s", err, diff)
	}
}

// TestSaveFailure makes the state file unwritable (a directory in its
// place): the failed save is logged, counted and makes /healthz
// unhealthy, Close returns it, and a later save that succeeds makes the
// server healthy again.
func TestSaveFailure(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(t0.Add(3 * time.Second))
	r := newDaemon(t, cfg, c, &firewalltest.Fake{Clock: c})
	if err := os.MkdirAll(cfg.StateFile, 0o700); err != nil {
		t.Fatal(err)
	}
	seq, _ := derive.Sequence(secret, "gw1", cfg.Params, derive.Step(c.Now(), cfg.Params.Period), netip.Addr{})
	for _, k := range seq {
		r.d.handle(listener.Packet{Src: netip.MustParseAddr("198.18.0.2"), Knock: k})
	}
	if err := r.d.save(); err == nil {
		t.Fatal("save over a directory succeeded")
	}
	health := func() (int, string) {
		rec := httptest.NewRecorder()
		r.d.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := health(); code != 503 || !strings.HasPrefix(body, "unhealthy: the last save of the used steps failed: state_file: ") {
		t.Errorf("/healthz after a failed save: %d %q", code, body)
	}
	if m := r.scrape(t, "/metrics"); !strings.Contains(m, "otpknock_state_save_errors_total 1\n") {
		t.Errorf("metrics lack the failed save:\n%s", m)
	}
	if !strings.Contains(r.log.String(), `level=ERROR msg="saving state: a used step may be accepted once more after a crash"`) {
		t.Errorf("log lacks the failed save:\n%s", r.log.String())
	}
	if err := os.Remove(cfg.StateFile); err != nil {
		t.Fatal(err)
	}
	if err := r.d.save(); err != nil {
		t.Fatal(err)
	}
	if code, body := health(); code != 200 || body != "ok\n" {
		t.Errorf("/healthz after a good save: %d %q", code, body)
	}
	os.Remove(cfg.StateFile)
	os.MkdirAll(cfg.StateFile, 0o700)
	if err := r.d.Close(); err == nil || !strings.Contains(err.Error(), "saving the used steps: state_file: ") {
		t.Errorf("Close with an unwritable state file = %v, want the save's error", err)
	}
}

// TestCrashWindow is the crash window of docs/guide.md: grants go out
// before the used step reaches the disk, so a server killed in between
// (here: never saved) accepts that step once more after its restart,
// from anyone who recorded it, until the step leaves the window (skew
// steps after it ends); once saved, or after the window, never.
func TestCrashWindow(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(t0.Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	client, attacker := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.9")
	step := derive.Step(c.Now(), cfg.Params.Period)
	crashed := newDaemon(t, cfg, c, fw)
	if got := crashed.knockStep(t, cfg, secret, client, step); got != "grant" {
		t.Fatalf("knock: %q, want grant", got)
	}
	// kill -9 before the persister's save: no Close, no save.
	last := derive.StepStart(step+1+uint64(cfg.Skew), cfg.Params.Period).Add(-time.Second)
	for _, tc := range []struct {
		name string
		at   time.Time
		want []string // the outcome of two replays
	}{
		{"same step", t0.Add(10 * time.Second), []string{"grant", "duplicate"}},
		{"last second of the window", last, []string{"grant", "duplicate"}},
		{"after the window", last.Add(time.Second), []string{"", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Set(tc.at)
			r := newDaemon(t, cfg, c, fw)
			defer os.Remove(cfg.StateFile)
			var got []string
			for range 2 {
				got = append(got, r.knockStep(t, cfg, secret, attacker, step))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("replays after the crash (-want +got):\n%s", diff)
			}
			r.d.Close()
		})
	}
	// A saved step is never accepted again.
	if err := crashed.d.save(); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(10 * time.Second))
	r := newDaemon(t, cfg, c, fw)
	defer r.d.Close()
	if got := r.knockStep(t, cfg, secret, attacker, step); got != "replay" {
		t.Errorf("after a save: %q, want replay", got)
	}
}
