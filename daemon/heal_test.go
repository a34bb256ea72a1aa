package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// healTwice moves the clock two healing intervals: the second tick is
// handed over only once the first one's check and repair are done.
func (r *running) healTwice() {
	r.clock.Advance(DefaultHealEvery)
	r.clock.Advance(DefaultHealEvery)
}

// TestHeal breaks the running daemon's firewall as a reload or an
// administrator would, and checks that the next check repairs it, logs
// what was missing once and counts the repair.
func TestHeal(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*firewalltest.Fake)
		log     string // the repair's log line; "" for none
	}{
		{"intact", func(*firewalltest.Fake) {}, ""},
		{"flushed INPUT", (*firewalltest.Fake).FlushInput, `level=WARN msg="firewall repaired" missing="jump from INPUT"`},
		{"a deleted rule", func(f *firewalltest.Fake) { f.DeleteRule(false, 0) }, `level=WARN msg="firewall repaired" missing="iptables: rules of OTPKNOCK"`},
		{"destroyed sets", (*firewalltest.Fake).DestroySets, `level=WARN msg="firewall repaired" missing="sets otpknock4, otpknock6"`},
		{"removed", func(f *firewalltest.Fake) { f.Remove(firewall.Plan{}) },
			`level=WARN msg="firewall repaired" missing="sets otpknock4, otpknock6; chain OTPKNOCK"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := setupConfig(t)
			c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
			fw := &firewalltest.Fake{Clock: c}
			r := start(t, cfg, c, fw)
			tt.breakIt(fw)
			r.healTwice()
			r.healTwice() // a second round finds nothing more to do
			repairs, setups := 0, "setups=1"
			if tt.log != "" {
				repairs, setups = 1, "setups=2"
			}
			if got, want := fw.String(), "installed=true nflog=true "+setups; got != want {
				t.Errorf("firewall after the checks:\n%s\nwant:\n%s", got, want)
			}
			if n := strings.Count(r.log.String(), "firewall repaired"); n != repairs {
				t.Errorf("%d repair log lines, want %d:\n%s", n, repairs, r.log)
			}
			if tt.log != "" && !strings.Contains(r.log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, r.log)
			}
			if m, want := r.scrape(t, "/metrics"), "otpknock_firewall_repairs_total "+string(rune('0'+repairs))+"\n"; !strings.Contains(m, want) {
				t.Errorf("metrics lack %q", want)
			}
			r.stop(t)
		})
	}
}

// TestHealFailures checks that a check that keeps failing logs once and
// repairs nothing, and that no repair follows Close.
func TestHealFailures(t *testing.T) {
	cfg, _ := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c, VerifyErr: errors.New("iptables: resource temporarily unavailable")}
	r := start(t, cfg, c, fw)
	fw.FlushInput()
	r.healTwice()
	r.healTwice()
	if n := strings.Count(r.log.String(), `msg="checking the firewall" err="iptables: resource temporarily unavailable"`); n != 1 {
		t.Errorf("%d log lines of the failing check, want 1:\n%s", n, r.log)
	}
	if !strings.Contains(fw.String(), "missing jump from INPUT") {
		t.Errorf("repaired without a check:\n%s", fw)
	}
	r.stop(t)
	fw.VerifyErr = nil
	r.d.heal("")
	if !strings.Contains(fw.String(), "missing jump from INPUT") || strings.Contains(r.log.String(), "firewall repaired") {
		t.Errorf("repaired after Close:\n%s\n%s", fw, r.log)
	}
}

// TestHealRearms: a repair recreates the filter's sets empty, so the
// daemon arms the current window again at once rather than at the next
// rollover.
func TestHealRearms(t *testing.T) {
	cfg, secret := setupConfig(t)
	const T = 60000000
	c := clocktest.NewFake(derive.StepStart(T, 30*time.Second).Add(3 * time.Second))
	r, ff := newFiltered(t, cfg, c)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	if err := c.WaitTickers(testContext(t), 2); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ff.String(), "filter arms=1 ") {
		t.Fatalf("not armed once at start:\n%s", ff)
	}
	ff.DestroySets()
	r.healTwice()
	eventually(t, "the repair", func() bool { return strings.Contains(r.log.String(), "firewall repaired") })
	if !strings.Contains(ff.String(), "filter arms=2 ") {
		t.Errorf("the window was not armed again after the repair:\n%s", ff)
	}
	if diff := cmp.Diff(firstKnocks(t, secret, cfg.Params, T-1, T+1), ff.Armed()); diff != "" {
		t.Errorf("armed after the repair (-want +got):\n%s", diff)
	}
	r.stop(t)
}
