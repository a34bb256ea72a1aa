package daemon

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// TestPingsBetweenKnocks: echo requests from the knocking source between
// its knocks cancel nothing when their sequence numbers lie outside the
// knock range (a plain ping counts from 1), however many; nine inside
// the range between two knocks are strays and cancel the sequence.
func TestPingsBetweenKnocks(t *testing.T) {
	cfg, secret := setupConfig(t)
	client := netip.MustParseAddr("198.18.0.2")
	ping := func(seq int) derive.Knock { return derive.Knock{Proto: derive.ICMP, Port: uint16(seq)} }
	for i, tc := range []struct {
		name  string
		first int // sequence number of the first ping
		want  bool
	}{
		{"plain pings (sequence 1 on) do not cancel", 1, true},
		{"pings just above the range do not cancel", int(cfg.Params.PortMax) + 1, true},
		{"nine echo requests in the range cancel", int(cfg.Params.PortMin), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step := uint64(60000000 + i) // the state file is shared: a fresh step each
			c := clocktest.NewFake(derive.StepStart(step, cfg.Params.Period).Add(3 * time.Second))
			r := start(t, cfg, c, &firewalltest.Fake{Clock: c})
			defer r.stop(t)
			seq, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, step, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			var pkts []derive.Knock
			n := tc.first
			for i, k := range seq {
				pkts = append(pkts, k)
				for range 9 {
					if i < len(seq)-1 && n <= 65535 {
						pkts = append(pkts, ping(n))
						n++
					}
				}
			}
			r.knock(t, client, pkts)
			if got := strings.Contains(r.log.String(), "msg=grant src=198.18.0.2 user=alice"); got != tc.want {
				t.Errorf("granted %v, want %v:\n%s", got, tc.want, r.log.String())
			}
		})
	}
}
