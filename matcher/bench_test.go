package matcher

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/listener"
)

func manyUsers(n int) []User {
	us := make([]User, n)
	for i := range us {
		us[i] = User{Name: fmt.Sprintf("u%d", i), Secret: []byte(fmt.Sprintf("secret of user %016d", i)), Open: ssh}
	}
	return us
}

// BenchmarkHandleNonMatching is the cost of a packet that starts nothing
// (a scan, a flood) with 10,000 users.
func BenchmarkHandleNonMatching(b *testing.B) {
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second}, manyUsers(10000), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Advance(t0); err != nil {
		b.Fatal(err)
	}
	var pkts []listener.Packet
	for port := 20000; len(pkts) < 1024; port++ {
		k := derive.Knock{Proto: derive.UDP, Port: uint16(port)}
		if _, starts := m.first[k]; !starts {
			pkts = append(pkts, listener.Packet{Src: netip.AddrFrom4([4]byte{198, 18, byte(port >> 8), byte(port)}), Knock: k})
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Handle(t0, pkts[i&1023])
		i++
	}
}

// BenchmarkAdvance is the per-step precomputation for 10,000 users and
// skew 1 (30,000 sequences).
func BenchmarkAdvance(b *testing.B) {
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second}, manyUsers(10000), nil)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		m.Advance(t0.Add(time.Duration(i) * 30 * time.Second))
		i++
	}
}
