package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/listener"
)

// floodSource is the n-th of 2^17 distinct addresses of 198.18.0.0/15.
func floodSource(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(n>>16&1), byte(n >> 8), byte(n)})
}

// TestEventLogFlood: one observed packet knock replayed from 10,000
// sources (or sent from 10,000 sources outside its claim) logs the lines
// of its first maxLoggedSources sources, counts every event in the
// metrics, and writes one summary line once the step has left the
// window: five lines, not 10,000.
func TestEventLogFlood(t *testing.T) {
	const step, flood = 60000000, 10000
	client := netip.MustParseAddr("198.18.0.2")
	tests := []struct {
		name       string
		grantFirst bool // the payload opens from client first; the flood replays it
		first      string
		summary    string
		metrics    []string
	}{
		{
			name: "replays", grantFirst: true,
			first:   fmt.Sprintf("level=WARN msg=replay src=198.18.0.0 user=pat step=%d ports=tcp/2222 knock=packet addrs=198.18.0.2", step),
			summary: fmt.Sprintf("level=WARN msg=replays user=pat step=%d count=%d sources=%d sources_capped=true", step, flood, maxCountedSources),
			metrics: []string{fmt.Sprintf(`otpknock_packet_knocks_total{outcome="replay"} %d`, flood), fmt.Sprintf("otpknock_log_suppressed_total %d", flood-maxLoggedSources)},
		},
		{
			name:    "refused sources",
			first:   fmt.Sprintf(`level=WARN msg="refused source" src=198.18.0.0 user=pat step=%d ports=tcp/2222 knock=packet addrs=198.18.0.2 reason="source not among the claimed addresses"`, step),
			summary: fmt.Sprintf(`level=WARN msg="refused sources" user=pat step=%d count=%d sources=%d sources_capped=true reason="source not among the claimed addresses"`, step, flood, maxCountedSources),
			metrics: []string{fmt.Sprintf(`otpknock_packet_knocks_total{outcome="refused"} %d`, flood), fmt.Sprintf("otpknock_log_suppressed_total %d", flood-maxLoggedSources)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := setupConfig(t)
			cfg, pd := addPacketUser(t, cfg)
			c := clocktest.NewFake(derive.StepStart(step, 30*time.Second).Add(3 * time.Second))
			r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
			defer r.stop(t)
			k, err := pd.Knock(step)
			if err != nil {
				t.Fatal(err)
			}
			payload := seal(t, pd, step, 1, client)
			if tt.grantFirst {
				r.src.Inject(listener.Packet{Src: client, Knock: k, Payload: payload})
			}
			for n := range flood {
				src := floodSource(n)
				if src == client {
					src = floodSource(flood)
				}
				r.src.Inject(listener.Packet{Src: src, Knock: k, Payload: payload})
			}
			if err := r.src.Drain(testContext(t)); err != nil {
				t.Fatal(err)
			}
			logs := r.log.String()
			if !strings.Contains(logs, tt.first) {
				t.Errorf("log lacks the first line %q:\n%.2000s", tt.first, logs)
			}
			if n := strings.Count(logs, "level=WARN"); n != maxLoggedSources {
				t.Errorf("%d WARN lines during the flood, want %d:\n%.2000s", n, maxLoggedSources, logs)
			}
			metrics := r.scrape(t, "/metrics")
			for _, s := range tt.metrics {
				if !strings.Contains(metrics, s) {
					t.Errorf("metrics lack %q", s)
				}
			}
			// The step leaves the window (skew 1): its summary follows.
			c.Advance(derive.StepStart(step+2, 30*time.Second).Sub(c.Now()))
			r.housekeep()
			logs = r.log.String()
			if !strings.Contains(logs, tt.summary) {
				t.Errorf("log lacks the summary %q:\n%.2000s", tt.summary, logs)
			}
			if n := strings.Count(logs, "level=WARN"); n != maxLoggedSources+1 {
				t.Errorf("%d WARN lines, want the first %d and the summary:\n%.2000s", n, maxLoggedSources, logs)
			}
		})
	}
}

// TestEventLogSources: replays of one step get a line per distinct
// source, the first maxLoggedSources of them, a source seen before never
// twice; the client's own resends after its grant are duplicates, one
// info line and no replay line, and hide no stranger's replay.
func TestEventLogSources(t *testing.T) {
	const step = 60000000
	client := netip.MustParseAddr("198.18.0.2")
	cfg, _ := setupConfig(t)
	cfg, pd := addPacketUser(t, cfg)
	c := clocktest.NewFake(derive.StepStart(step, 30*time.Second).Add(3 * time.Second))
	r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
	k, err := pd.Knock(step)
	if err != nil {
		t.Fatal(err)
	}
	payload := seal(t, pd, step, 1, client)
	srcs := []string{"198.18.0.2", "198.18.0.2", "198.18.0.2", "198.18.0.2", // the grant and 3 resends: duplicates
		"198.18.0.3", "198.18.0.2", "198.18.0.4", "198.18.0.3", "198.18.0.5", "198.18.0.6", "198.18.0.7"}
	for _, s := range srcs {
		r.src.Inject(listener.Packet{Src: netip.MustParseAddr(s), Knock: k, Payload: payload})
	}
	if err := r.src.Drain(testContext(t)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for l := range strings.Lines(r.log.String()) {
		if _, rest, ok := strings.Cut(l, "msg=replay src="); ok {
			got = append(got, strings.Fields(rest)[0])
		}
	}
	want := []string{"198.18.0.3", "198.18.0.4", "198.18.0.5", "198.18.0.6"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sources of the replay lines (-want +got):\n%s", diff)
	}
	r.stop(t)                                                                                    // Close writes the summary of the step still in the window
	summary := fmt.Sprintf("msg=replays user=pat step=%d count=%d sources=5", step, len(srcs)-5) // less the grant and 4 duplicates
	if !strings.Contains(r.log.String(), summary) {
		t.Errorf("log lacks %q:\n%s", summary, r.log)
	}
	if n := strings.Count(r.log.String(), "level=INFO msg=duplicate src=198.18.0.2"); n != 1 {
		t.Errorf("%d duplicate lines at info, want 1 for the client's 4 resends:\n%s", n, r.log)
	}
}
