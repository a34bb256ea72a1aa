package derive

import (
	"net/netip"
	"testing"
)

// BenchmarkSequence measures one derivation with the default parameters,
// as the server does for every user and step of its window.
func BenchmarkSequence(b *testing.B) {
	for _, bc := range []struct {
		name string
		src  netip.Addr
	}{
		{"unbound", netip.Addr{}},
		{"bound-ipv6", netip.MustParseAddr("2001:2::1")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := mustNew(b, testSecret, "example", DefaultParams())
			ks := make([]Knock, 0, MaxKnocks)
			b.ReportAllocs()
			var step uint64
			var err error
			for b.Loop() {
				if ks, err = d.Sequence(ks, step, bc.src); err != nil {
					b.Fatal(err)
				}
				step++
			}
		})
	}
}
