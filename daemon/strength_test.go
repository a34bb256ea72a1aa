package daemon

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// sweepable rewrites the knock parameters of the config at path.
func sweepable(t *testing.T, path, knocks, protocols, rng string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)^knocks: \S+$`).ReplaceAllString(string(data), "knocks: "+knocks)
	text = regexp.MustCompile(`(?m)^protocols: .*$`).ReplaceAllString(text, "protocols: "+protocols)
	text = regexp.MustCompile(`(?m)^knock_range: \S+$`).ReplaceAllString(text, "knock_range: "+rng)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the config must pass the per-sequence floor: %v", err)
	}
	return cfg
}

// TestStrengthRefused checks that parameter sets with 48 bits per
// sequence that a blind sweep walks (one was opened by 17,242 random
// packets) are refused at start and at a reload, in one line naming the
// config and the fields.
func TestStrengthRefused(t *testing.T) {
	for _, tc := range []struct{ name, knocks, protocols, rng, want string }{
		{"16 knocks over tcp 20000-20016", "16", "[tcp]", "20000-20016", "17 elements (protocols times usable ports), below the minimum of 1024"},
		{"6 knocks over tcp and udp 20000-20255", "6", "[tcp, udp]", "20000-20255", "512 elements (protocols times usable ports), below the minimum of 1024"},
		{"5 knocks over tcp 20000-21023", "5", "[tcp]", "20000-21023", "35.7 effective bits against a blind sweep with 1 users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good, _ := setupConfig(t)
			c := clocktest.NewFake(time.Unix(1_800_000_003, 0))
			fw := &firewalltest.Fake{Clock: c}
			r := newDaemon(t, good, c, fw)
			defer r.d.Close()
			cfg := sweepable(t, good.Path, tc.knocks, tc.protocols, tc.rng)
			_, err := New(cfg, Deps{Firewall: fw, Clock: c, Log: nil})
			if err == nil || !errors.Is(err, derive.ErrWeak) || strings.Contains(err.Error(), "\n") ||
				!strings.HasPrefix(err.Error(), cfg.Path+": knocks, protocols and knock range: "+tc.want) {
				t.Errorf("New = %v, want one line naming %s and the fields: %s", err, cfg.Path, tc.want)
			}
			if err := r.d.Reload(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Reload = %v, want %s", err, tc.want)
			}
			if !strings.Contains(fw.String(), "setups=1") {
				t.Errorf("a refused config reached the firewall: %s", fw.String())
			}
		})
	}
}
