package daemon

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

func TestFirewallPlan(t *testing.T) {
	tcp := func(p uint16) derive.Knock { return derive.Knock{Proto: derive.TCP, Port: p} }
	udp := func(p uint16) derive.Knock { return derive.Knock{Proto: derive.UDP, Port: p} }
	params := derive.DefaultParams()
	params.PortMin, params.PortMax = 30000, 39999
	params.Protocols = derive.Protocols(derive.UDP | derive.ICMP)
	tests := []struct {
		name    string
		echo    string // icmp_echo
		users   []config.User
		forward []derive.Knock
		want    []derive.Knock
	}{
		{"no users", "", nil, nil, nil},
		{"icmp_echo: drop", config.ICMPEchoDrop, nil, nil, nil},
		{"forwarded services, one opened by no user", "", []config.User{{Name: "alice", Open: []derive.Knock{tcp(8080), tcp(22)}}},
			[]derive.Knock{tcp(8080), udp(5353)}, []derive.Knock{tcp(22), tcp(8080), udp(5353)}},
		{"one user", config.ICMPEchoHost, []config.User{{Name: "alice", Open: []derive.Knock{udp(1194), tcp(22)}}}, nil, []derive.Knock{tcp(22), udp(1194)}},
		{"shared services once, sorted by protocol then port", "", []config.User{
			{Name: "alice", Open: []derive.Knock{tcp(2222), udp(53), tcp(22)}},
			{Name: "bob", Open: []derive.Knock{tcp(22), udp(53), tcp(443)}},
		}, nil, []derive.Knock{tcp(22), tcp(443), tcp(2222), udp(53)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Params: params, NFLOGGroup: 99, OpenTimeout: 45 * time.Second, SequenceTimeout: 5 * time.Second, Users: tt.users, Forward: tt.forward, ICMPEcho: tt.echo}
			want := firewall.Plan{Group: 99, PortMin: 30000, PortMax: 39999, Protocols: params.Protocols,
				Protected: tt.want, Timeout: 45 * time.Second, Forward: tt.forward, Filter: true, Track: 5 * time.Second,
				DropEcho: tt.echo == config.ICMPEchoDrop}
			if diff := cmp.Diff(want, FirewallPlan(cfg)); diff != "" {
				t.Errorf("FirewallPlan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanFor: the plan filters only for a backend with a Filter.
func TestPlanFor(t *testing.T) {
	cfg := &config.Config{Params: derive.DefaultParams(), SequenceTimeout: 10 * time.Second}
	for _, tc := range []struct {
		name string
		fw   firewall.Backend
		want bool
	}{
		{"fake without a filter", &firewalltest.Fake{}, false},
		{"fake with a filter", &firewalltest.FakeFilter{Fake: &firewalltest.Fake{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlanFor(cfg, tc.fw).Filter; got != tc.want {
				t.Errorf("PlanFor(...).Filter = %v, want %v", got, tc.want)
			}
		})
	}
}
