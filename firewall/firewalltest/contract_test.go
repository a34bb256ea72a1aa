package firewalltest

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
)

// TestContractFake holds the in-memory FakeFilter to the contract of
// the real backends, so the daemon's tests run against the same
// behaviour.
func TestContractFake(t *testing.T) {
	Contract(t, func(t *testing.T) *Subject {
		c := clocktest.NewFake(time.Unix(1_800_000_000, 0))
		f := &FakeFilter{Fake: &Fake{Clock: c}}
		return &Subject{
			Backend:  f,
			Wait:     c.Advance,
			Src4:     netip.MustParseAddr("198.18.0.2"),
			Src6:     netip.MustParseAddr("2001:2::2"),
			Prefix4:  netip.MustParsePrefix("198.18.0.0/25"),
			Prefix6:  netip.MustParsePrefix("2001:2::/112"),
			Snapshot: func(*testing.T) string { return f.String() },
			Flush:    func(*testing.T) { f.FlushInput() },
			Left: func(*testing.T) []string {
				if s := f.Fake.String(); !strings.HasPrefix(s, "installed=false") {
					return []string{s}
				}
				return nil
			},
			Logs: func(_ *testing.T, src netip.Addr, k derive.Knock) bool { return f.Passes(src, k) },
		}
	})
}
