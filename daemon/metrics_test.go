package daemon

import (
	"flag"
	"net/netip"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden from this implementation")

// TestMetricsPage checks the whole /metrics page after one granted
// sequence against testdata/metrics.golden: names, labels, # HELP and
// # TYPE lines, order and values. The golden was first written by the
// Prometheus client library (client_golang 1.25) this page replaced, so
// scrapers see the same page. The precompute time, which varies, reads
// PRECOMPUTE.
func TestMetricsPage(t *testing.T) {
	cfg, secret := setupConfig(t)
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(3 * time.Second))
	r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
	defer r.stop(t)
	seq, err := derive.Sequence(secret, "gw1", cfg.Params, 60000000, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	r.knock(t, netip.MustParseAddr("198.18.0.2"), seq)
	precompute := regexp.MustCompile(`(?m)^(otpknock_step_precompute_seconds) [0-9.e+-]+$`)
	got := precompute.ReplaceAllString(r.scrape(t, "/metrics"), "$1 PRECOMPUTE")
	if *update {
		if err := os.WriteFile("testdata/metrics.golden", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/metrics.golden")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("/metrics (-want +got):\n%s", diff)
	}
}
