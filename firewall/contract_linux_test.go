package firewall_test

import (
	"net/netip"
	"testing"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
)

// TestContractOnFakes holds each backend, over its unprivileged fakes
// of the kernel, to the contract.
func TestContractOnFakes(t *testing.T) {
	for _, tt := range []struct {
		name string
		new  func() firewall.OnFakes
	}{
		{"iptables", firewall.IPTablesOnFakes},
		{"nftables", func() firewall.OnFakes { return firewall.NFTOnFake(false) }},
		{"nftables from Linux 6.12", func() firewall.OnFakes { return firewall.NFTOnFake(true) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			firewalltest.Contract(t, func(t *testing.T) *firewalltest.Subject {
				f := tt.new()
				return &firewalltest.Subject{
					Backend:  f.Backend,
					Wait:     f.Clock.Advance,
					Src4:     netip.MustParseAddr("198.18.0.2"),
					Src6:     netip.MustParseAddr("2001:2::2"),
					Prefix4:  netip.MustParsePrefix("198.18.0.0/25"),
					Prefix6:  netip.MustParsePrefix("2001:2::/112"),
					Snapshot: func(*testing.T) string { return f.Snapshot() },
					Flush:    func(*testing.T) { f.Flush() },
					Left:     func(*testing.T) []string { return f.Left() },
					// The fakes model the filter's sets; the rules bound
					// the knock range (the contract keeps Plan's).
					Logs: func(_ *testing.T, src netip.Addr, k derive.Knock) bool {
						p := firewalltest.Plan()
						return k.Port >= p.PortMin && k.Port <= p.PortMax && f.Logs(src, k)
					},
				}
			})
		})
	}
}
