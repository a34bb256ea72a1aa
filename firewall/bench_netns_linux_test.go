package firewall

import (
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// BenchmarkGrant is one grant: an ipset entry with a timeout added over
// netlink, in a namespace.
//
//	sudo go test ./firewall -run '^$' -bench Grant
func BenchmarkGrant(b *testing.B) {
	netnstest.Require(b, "iptables", "ip6tables")
	p := netnstest.NewPair(b)
	k := kernelIn(b, p, testPlan())
	svc := derive.Knock{Proto: derive.TCP, Port: 22}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		if err := k.Grant(src, svc, 30*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
