package firewalltest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// TestFakeFilter arms elements and tracks sources on a fake clock: what
// passes, the rendered state, expiry, and a re-arm setting a TTL anew.
func TestFakeFilter(t *testing.T) {
	clk := clocktest.NewFake(time.Unix(1_800_000_000, 0))
	f := &FakeFilter{Fake: &Fake{Clock: clk}}
	var _ firewall.Filter = f
	var _ firewall.Backend = f
	if err := f.Setup(Plan()); err != nil {
		t.Fatal(err)
	}
	tcp := derive.Knock{Proto: derive.TCP, Port: 30000}
	udp := derive.Knock{Proto: derive.UDP, Port: 30001}
	icmp := derive.Knock{Proto: derive.ICMP, Port: 30002}
	a, b := netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:2::3")
	if err := f.Arm([]firewall.Element{{Knock: tcp, TTL: 3 * time.Second}, {Knock: udp, TTL: 10 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Track([]firewall.Source{{Addr: netip.MustParseAddr("::ffff:198.18.0.2"), TTL: 5 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	other := derive.Knock{Proto: derive.TCP, Port: 30003}
	tests := []struct {
		name  string
		after time.Duration // since the start
		src   netip.Addr
		k     derive.Knock
		want  bool
	}{
		{"armed element", 0, b, tcp, true},
		{"not armed, untracked", 0, b, other, false},
		{"tracked source (mapped form)", 0, a, other, true},
		{"icmp always", 0, b, icmp, true},
		{"element expired", 3 * time.Second, b, tcp, false},
		{"element still armed", 3 * time.Second, b, udp, true},
		{"source expired", 5 * time.Second, a, other, false},
	}
	start := clk.Now()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(start.Add(tc.after))
			if got := f.Passes(tc.src, tc.k); got != tc.want {
				t.Errorf("Passes(%v, %v) = %v, want %v", tc.src, tc.k, got, tc.want)
			}
		})
	}
	clk.Set(start.Add(time.Second))
	want := "installed=true nflog=true setups=1\nfilter arms=1 tracks=1 armed=2 sent=2\ntrack 198.18.0.2 4s"
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
	if err := f.Arm([]firewall.Element{{Knock: udp, TTL: time.Second}}); err != nil {
		t.Fatal(err)
	}
	clk.Set(start.Add(2 * time.Second))
	if diff := cmp.Diff([]derive.Knock{tcp}, f.Armed()); diff != "" {
		t.Errorf("a re-arm sets the TTL anew: Armed() (-want +got):\n%s", diff)
	}
}
