package matcher

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
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
	m := benchMatcher(b, 10000)
	if err := m.Advance(t0); err != nil {
		b.Fatal(err)
	}
	pkts := nonStarting(m, 20000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pkts[i&1023]
		m.Handle(t0, p.src, p.k, nil)
		i++
	}
}

// BenchmarkAdvance is the per-step precomputation for 10,000 users and
// skew 1 (30,000 sequences).
func BenchmarkAdvance(b *testing.B) {
	m := benchMatcher(b, 10000)
	i := 0
	for b.Loop() {
		m.Advance(t0.Add(time.Duration(i) * 30 * time.Second))
		i++
	}
}

// BenchmarkScale is the matcher with 1, 1,000 and 100,000 users (skew 1):
// one op is a step rollover (3 sequences per user derived and indexed);
// it reports the live heap after the rollover and the cost of a packet
// that starts nothing.
//
//	go test ./matcher -run '^$' -bench Scale -benchtime 5x
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1, 1000, 100000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			m := benchMatcher(b, n)
			i := 0
			for b.Loop() {
				if err := m.Advance(t0.Add(time.Duration(i) * 30 * time.Second)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(liveHeap())/float64(1<<20), "heap-MiB")
			b.ReportMetric(packetCost(m, t0.Add(time.Duration(i-1)*30*time.Second)), "ns/packet")
		})
	}
}

// benchMatcher is a matcher of n users with the default parameters.
func benchMatcher(b *testing.B, n int) *Matcher {
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second}, manyUsers(n), nil)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// packet is a knock from a source, as the benchmarks feed them.
type packet struct {
	src netip.Addr
	k   derive.Knock
}

// nonStarting returns 1,024 UDP packets, each from its own source, to the
// ports from port up that start no sequence in m's current window.
func nonStarting(m *Matcher, port int) []packet {
	var pkts []packet
	for ; len(pkts) < 1024 && port < 65536; port++ {
		k := derive.Knock{Proto: derive.UDP, Port: uint16(port)}
		if len(m.win.Load().starting(k)) == 0 {
			pkts = append(pkts, packet{src: netip.AddrFrom4([4]byte{198, 18, byte(port >> 8), byte(port)}), k: k})
		}
	}
	return pkts
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// packetCost is the mean time in ns of a packet that starts no sequence,
// over 100,000 packets from 1,024 sources.
func packetCost(m *Matcher, at time.Time) float64 {
	pkts := nonStarting(m, 1)
	began := time.Now()
	for i := range 100000 {
		p := pkts[i&1023]
		m.Handle(at, p.src, p.k, nil)
	}
	return float64(time.Since(began).Nanoseconds()) / 100000
}

// BenchmarkHandlePacket is the packet path of packet mode and of
// source binding, with 10,000 users. tag: a packet knock whose tag does
// not verify, to a packet user's element (one candidate), one
// constant-time tag check. stray: a packet with a 64-byte payload that
// starts nothing, 1,000 of the users in packet mode. stray-bound: a bare
// packet that starts nothing, 1,000 of the users source-bound (their first
// knocks are indexed: no derivation).
//
//	go test ./matcher -run '^$' -bench HandlePacket -benchmem
func BenchmarkHandlePacket(b *testing.B) {
	payload := make([]byte, 64)
	b.Run("tag", func(b *testing.B) {
		us := manyUsers(10000)
		us[0].Mode = derive.ModePacket
		m := advanced(b, us)
		pd, err := derive.NewPacket(us[0].Secret, "gw1", derive.DefaultParams())
		if err != nil {
			b.Fatal(err)
		}
		k, err := pd.Knock(derive.Step(t0, 30*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		src := netip.MustParseAddr("198.18.0.2")
		b.ReportAllocs()
		for b.Loop() {
			m.Handle(t0, src, k, payload)
		}
		if st := m.Stats(); st.BadTag == 0 {
			b.Fatalf("no tag was checked: %+v", st)
		}
	})
	for _, bc := range []struct {
		name    string
		edit    func(*User)
		payload []byte
	}{
		{"stray", func(u *User) { u.Mode = derive.ModePacket }, payload},
		{"stray-bound", func(u *User) { u.Bind = true }, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			us := manyUsers(10000)
			for i := 0; i < len(us); i += 10 {
				bc.edit(&us[i])
			}
			m := advanced(b, us)
			pkts := nonStarting(m, 20000)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := pkts[i&1023]
				m.Handle(t0, p.src, p.k, bc.payload)
				i++
			}
			if st := m.Stats(); st.Derived != 0 || st.Started != 0 || st.BadTag != 0 {
				b.Fatalf("a stray did work: %+v", st)
			}
		})
	}
}

// advanced is a matcher of us with the default parameters, its window at
// t0.
func advanced(b *testing.B, us []User) *Matcher {
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second}, us, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Advance(t0); err != nil {
		b.Fatal(err)
	}
	return m
}
