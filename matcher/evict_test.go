package matcher

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// floodAddr is the i-th of 2^16 flood sources, in 198.19.0.0/16.
func floodAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}) }

// capped is a matcher of testUsers tracking at most n sources.
func capped(t *testing.T, n int) *Matcher {
	t.Helper()
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance, MaxSources: n}, testUsers(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEvictionKeepsProgress: with the source table full, sources whose
// candidates are all at knock 1 are evicted before a source that matched
// two knocks, so a slow sequence survives a flood of first knocks from
// random sources; among sources of the same progress the oldest goes.
func TestEvictionKeepsProgress(t *testing.T) {
	a := seqOf(t, "alice", stepT, netip.Addr{})
	gap := 250 * time.Millisecond
	tests := []struct {
		name string
		max  int // MaxSources
		run  func(t *testing.T, m *Matcher) []string
		want []string
	}{
		{
			name: "a source at knock 2 outlives a first-knock flood ten times the table", max: 100,
			run: func(t *testing.T, m *Matcher) []string {
				for i := range 100 {
					send(t, m, []pkt{{0, floodAddr(i), a[0]}})
				}
				send(t, m, knocks(client, 0, a[:2]...))
				for i := 100; i < 1100; i++ { // the flood goes on between the client's knocks
					send(t, m, []pkt{{gap, floodAddr(i), a[0]}})
				}
				var got []string
				for i, k := range a[2:] {
					got = append(got, send(t, m, []pkt{{time.Duration(i+2) * gap, client, k}})...)
					for j := range 100 {
						send(t, m, []pkt{{time.Duration(i+2) * gap, floodAddr(1100 + 100*i + j), a[0]}})
					}
				}
				return got
			},
			want: []string{"grant alice 198.18.0.2 step=T+0"},
		},
		{
			name: "with only sources past knock 1 left, the oldest goes", max: 3,
			run: func(t *testing.T, m *Matcher) []string {
				oldest, second := netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")
				send(t, m, cat(knocks(oldest, 0, a[:2]...), knocks(second, 0, a[:2]...), knocks(client, 0, a[:2]...)))
				send(t, m, []pkt{{gap, floodAddr(1), a[0]}}) // evicts the oldest
				var got []string
				for _, src := range []netip.Addr{oldest, second, client} {
					got = append(got, send(t, m, knocks(src, 2*gap, a[2:]...))...)
				}
				return got
			},
			want: []string{"grant alice 198.18.1.2 step=T+0", "replay alice 198.18.0.2 step=T+0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := capped(t, tt.max)
			got := tt.run(t, m)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if st := m.Stats(); st.Sources > m.cfg.MaxSources {
				t.Errorf("%d sources tracked, cap %d", st.Sources, m.cfg.MaxSources)
			}
		})
	}
}

// TestEvictionQueuesBounded: a long flood with promotions keeps the
// eviction queues within twice the table, stale entries included.
func TestEvictionQueuesBounded(t *testing.T) {
	a := seqOf(t, "alice", stepT, netip.Addr{})
	m := capped(t, 100)
	for i := range 20000 {
		ks := a[:1]
		if i%3 == 0 {
			ks = a[:2] // a third of the flood gets to knock 2
		}
		send(t, m, knocks(floodAddr(i), 0, ks...))
	}
	if n := len(m.queues[tierFresh]) + len(m.queues[tierAdvanced]); n > 2*m.cfg.MaxSources {
		t.Errorf("eviction queues hold %d entries for a table of %d", n, m.cfg.MaxSources)
	}
	if st := m.Stats(); st.Sources != m.cfg.MaxSources {
		t.Errorf("%d sources tracked, want the cap %d", st.Sources, m.cfg.MaxSources)
	}
}

// BenchmarkFloodFirstKnock is the cost of a flood from random sources
// to a first knock with the source table full (65,536, 10,000 users):
// every packet starts a candidate for a new source and evicts one.
//
//	go test ./matcher -run '^$' -bench FloodFirstKnock -benchmem
func BenchmarkFloodFirstKnock(b *testing.B) {
	m := benchMatcher(b, 10000)
	if err := m.Advance(t0); err != nil {
		b.Fatal(err)
	}
	first, err := derive.Sequence(manyUsers(1)[0].Secret, "gw1", derive.DefaultParams(), stepT, netip.Addr{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range DefaultMaxSources {
		m.Handle(t0, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), first[0], nil)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a := [16]byte{0x20, 0x01, 0, 2} // 2001:2::/48
		binary.BigEndian.PutUint64(a[8:], uint64(i))
		m.Handle(t0, netip.AddrFrom16(a), first[0], nil)
		i++
	}
	if st := m.Stats(); st.Sources != DefaultMaxSources || st.Evicted == 0 {
		b.Fatalf("stats %+v: want a full table and evictions", st)
	}
}

// floodRate is the random-source flood of issue 27's eviction finding:
// about 135,000 packets a second to one armed first knock.
const floodRate = 135000

// TestEvictionFloodSequences replays the eviction finding in virtual
// time: with the default table (65,536 sources) full of flood sources,
// a flood of floodRate packets a second from new random sources to
// alice's first knock runs while alice knocks her whole sequence with
// gaps of 180 ms and 250 ms, six times each. A FIFO table evicted every
// source older than 65,536/floodRate (0.49 s), so none of these opened;
// all must.
func TestEvictionFloodSequences(t *testing.T) {
	a := seqOf(t, "alice", stepT, netip.Addr{})
	const tries = 6
	every := time.Second / floodRate
	for _, gap := range []time.Duration{180 * time.Millisecond, 250 * time.Millisecond} {
		t.Run(gap.String(), func(t *testing.T) {
			opened := 0
			for try := range tries {
				m := newMatcher(t, nil)
				n := uint64(0)
				flood := func(until time.Duration) {
					for at := time.Duration(n) * every; at < until; at = time.Duration(n) * every {
						src := [16]byte{0x20, 0x01, 0, 2} // 2001:2::/48
						binary.BigEndian.PutUint64(src[8:], n)
						send(t, m, []pkt{{at, netip.AddrFrom16(src), a[0]}})
						n++
					}
				}
				// The table full, then a try's own stretch of flood.
				flood(time.Duration(DefaultMaxSources)*every + time.Duration(try)*40*time.Millisecond)
				start := time.Duration(n) * every
				var got []string
				for i, k := range a {
					at := start + time.Duration(i)*gap
					flood(at)
					got = append(got, send(t, m, []pkt{{at, client, k}})...)
				}
				if len(got) == 1 && got[0] == "grant alice 198.18.0.2 step=T+0" {
					opened++
				}
				if st := m.Stats(); st.Evicted == 0 || st.Sources > DefaultMaxSources {
					t.Fatalf("stats %+v: want evictions and a full table", st)
				}
			}
			t.Logf("gap %v under %d pps: %d/%d sequences opened", gap, floodRate, opened, tries)
			if opened != tries {
				t.Errorf("%d/%d sequences with a gap of %v opened under the flood, want all", opened, tries, gap)
			}
		})
	}
}
