package firewall_test

import (
	"testing"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestNFTManyServices installs, verifies and reinstalls a plan guarding
// 400 services in one nftables transaction: its replies once overflowed
// the lasting connection's receive queue (ENOBUFS), and every request
// after that read stale replies ("mismatched sequence"). After a
// flush, Verify sees it and Setup heals on the same backend.
func TestNFTManyServices(t *testing.T) {
	netnstest.Require(t, "nft")
	p := netnstest.NewPair(t)
	plan := firewalltest.Plan()
	plan.Protected = nil
	for port := uint16(2000); len(plan.Protected) < 400; port++ {
		plan.Protected = append(plan.Protected, derive.Knock{Proto: derive.TCP, Port: port})
	}
	b := openIn(t, p, "nftables", plan)
	var missing []string
	var err error
	p.Do(t, p.Server, func() { missing, err = b.Verify(plan) })
	if err != nil || len(missing) != 0 {
		t.Fatalf("verify after setup: %v, %v", missing, err)
	}
	p.MustRun(t, p.Server, "nft", "flush", "ruleset")
	p.Do(t, p.Server, func() {
		if missing, err = b.Verify(plan); err == nil && len(missing) > 0 {
			err = b.Setup(plan)
		}
	})
	if err != nil || len(missing) == 0 {
		t.Fatalf("verify after a flush: %v, %v; want what is missing", missing, err)
	}
	p.Do(t, p.Server, func() { missing, err = b.Verify(plan) })
	if err != nil || len(missing) != 0 {
		t.Fatalf("verify after the repair: %v, %v", missing, err)
	}
	var st firewall.Status
	p.Do(t, p.Server, func() { st, err = b.Status(plan) })
	if err != nil || !st.Installed {
		t.Fatalf("status: %+v, %v", st.Installed, err)
	}
}
