package matcher

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

var (
	t0     = derive.StepStart(60000000, 30*time.Second).Add(5 * time.Second) // 5 s into step T
	stepT  = uint64(60000000)
	client = netip.MustParseAddr("198.18.0.2")
	other  = netip.MustParseAddr("198.18.0.3")
	far    = netip.MustParseAddr("203.0.113.9")
	ssh    = []derive.Knock{{Proto: derive.TCP, Port: 22}}
)

func testUsers() []User {
	return []User{
		{Name: "alice", Secret: []byte("alice's secret, 32 bytes long!!!"), Open: ssh, From: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")}},
		{Name: "bob", Secret: []byte("bob's secret is also 32 bytes!!!"), Open: ssh, Bind: true},
		{Name: "carol", Secret: []byte("carol has a secret of 32 bytes!!"), Open: []derive.Knock{{Proto: derive.UDP, Port: 1194}}},
	}
}

func newMatcher(t testing.TB, used map[string]uint64) *Matcher {
	t.Helper()
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance}, testUsers(), used)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func seqOf(t testing.TB, name string, step uint64, src netip.Addr) []derive.Knock {
	t.Helper()
	for _, u := range testUsers() {
		if u.Name == name {
			if !u.Bind {
				src = netip.Addr{}
			}
			ks, err := derive.Sequence(u.Secret, "gw1", derive.DefaultParams(), step, src)
			if err != nil {
				t.Fatal(err)
			}
			return ks
		}
	}
	t.Fatalf("no user %s", name)
	return nil
}

// pkt is one packet in a scenario.
type pkt struct {
	at  time.Duration // after t0
	src netip.Addr
	k   derive.Knock
}

// send feeds the packets and returns the events as strings.
func send(t testing.TB, m *Matcher, pkts []pkt) []string {
	t.Helper()
	var out []string
	for _, p := range pkts {
		ev, ok, err := m.Handle(t0.Add(p.at), p.src, p.k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, fmt.Sprintf("%v %s %v step=T%+d", ev.Kind, ev.User, ev.Src, int64(ev.Step-stepT)))
		}
	}
	return out
}

// knocks turns a sequence into packets from src, 50 ms apart, starting
// at the offset.
func knocks(src netip.Addr, at time.Duration, ks ...derive.Knock) []pkt {
	var out []pkt
	for i, k := range ks {
		out = append(out, pkt{at + time.Duration(i)*50*time.Millisecond, src, k})
	}
	return out
}

func cat(parts ...[]pkt) []pkt {
	var out []pkt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func stray(port uint16) derive.Knock { return derive.Knock{Proto: derive.UDP, Port: port} }

// pings returns n echo requests from src with sequence numbers from seq
// up.
func pings(src netip.Addr, seq uint16, n int) []pkt {
	var out []pkt
	for i := range n {
		out = append(out, pkt{0, src, derive.Knock{Proto: derive.ICMP, Port: seq + uint16(i)}})
	}
	return out
}

// strays returns n stray packets from src on ports from port up.
func strays(src netip.Addr, port uint16, n int) []pkt {
	var out []pkt
	for i := range n {
		out = append(out, pkt{0, src, stray(port + uint16(i))})
	}
	return out
}

func TestScenarios(t *testing.T) {
	lo, hi := derive.DefaultParams().PortMin, derive.DefaultParams().PortMax
	a := seqOf(t, "alice", stepT, netip.Addr{})
	aPrev, aNext, aOld := seqOf(t, "alice", stepT-1, netip.Addr{}), seqOf(t, "alice", stepT+1, netip.Addr{}), seqOf(t, "alice", stepT-2, netip.Addr{})
	bForClient := seqOf(t, "bob", stepT, client)
	c := seqOf(t, "carol", stepT, netip.Addr{})
	tests := []struct {
		name string
		used map[string]uint64
		pkts []pkt
		want []string
	}{
		{"exact sequence", nil, knocks(client, 0, a...), []string{"grant alice 198.18.0.2 step=T+0"}},
		{"duplicates are no-ops", nil, knocks(client, 0, a[0], a[0], a[1], a[1], a[1], a[2], a[3]), []string{"grant alice 198.18.0.2 step=T+0"}},
		{"eight strays in each gap tolerated", nil, cat(knocks(client, 0, a[0]), strays(client, 1, 8), knocks(client, 0, a[1]), strays(client, 10, 8),
			knocks(client, 0, a[2]), strays(client, 20, 8), knocks(client, 0, a[3])), []string{"grant alice 198.18.0.2 step=T+0"}},
		{"nine strays in one gap cancel", nil, cat(knocks(client, 0, a[0], a[1]), strays(client, lo+1, 9), knocks(client, 0, a[2], a[3])), nil},
		{"nine echo requests in the range in one gap cancel", nil, cat(knocks(client, 0, a[0], a[1]), pings(client, lo, 9), knocks(client, 0, a[2], a[3])), nil},
		{"plain pings (sequence 1-60) between knocks are no strays", nil,
			cat(knocks(client, 0, a[0]), pings(client, 1, 20), knocks(client, 0, a[1]), pings(client, 21, 20), knocks(client, 0, a[2]), pings(client, 41, 20), knocks(client, 0, a[3])),
			[]string{"grant alice 198.18.0.2 step=T+0"}},
		{"packets outside the knock range are no strays", nil,
			cat(knocks(client, 0, a[0], a[1]), strays(client, lo-10, 10), strays(client, hi+1, 10), knocks(client, 0, a[2], a[3])),
			[]string{"grant alice 198.18.0.2 step=T+0"}},
		{"wrong order", nil, knocks(client, 0, a[1], a[0], a[2], a[3]), nil},
		{"previous step", nil, knocks(client, 0, aPrev...), []string{"grant alice 198.18.0.2 step=T-1"}},
		{"next step", nil, knocks(client, 0, aNext...), []string{"grant alice 198.18.0.2 step=T+1"}},
		{"outside the window", nil, knocks(client, 0, aOld...), nil},
		{"a copy from the granted source is a duplicate", nil, cat(knocks(client, 0, a...), knocks(client, time.Second, a...), knocks(client, 2*time.Second, a...)),
			[]string{"grant alice 198.18.0.2 step=T+0", "duplicate alice 198.18.0.2 step=T+0", "duplicate alice 198.18.0.2 step=T+0"}},
		{"replay, other source", nil, cat(knocks(client, 0, a...), knocks(other, time.Second, a...)),
			[]string{"grant alice 198.18.0.2 step=T+0", "replay alice 198.18.0.3 step=T+0"}},
		{"older step after a newer one", nil, cat(knocks(client, 0, aNext...), knocks(client, time.Second, a...)),
			[]string{"grant alice 198.18.0.2 step=T+1", "replay alice 198.18.0.2 step=T+0"}},
		{"used step from the state file", map[string]uint64{"alice": stepT}, knocks(client, 0, a...), []string{"replay alice 198.18.0.2 step=T+0"}},
		{"timeout", nil, []pkt{{0, client, a[0]}, {4 * time.Second, client, a[1]}, {8 * time.Second, client, a[2]}, {11 * time.Second, client, a[3]}}, nil},
		{"refused source does not burn the step", nil, cat(knocks(far, 0, a...), knocks(client, time.Second, a...)),
			[]string{"refused alice 203.0.113.9 step=T+0", "grant alice 198.18.0.2 step=T+0"}},
		{"bound to the source", nil, cat(knocks(other, 0, bForClient...), knocks(client, time.Second, bForClient...)),
			[]string{"grant bob 198.18.0.2 step=T+0"}},
		{"interleaved users and sources", nil, []pkt{
			{0, client, a[0]}, {0, other, c[0]}, {50 * time.Millisecond, client, a[1]}, {50 * time.Millisecond, other, c[1]},
			{100 * time.Millisecond, other, c[2]}, {100 * time.Millisecond, client, a[2]}, {150 * time.Millisecond, client, a[3]}, {150 * time.Millisecond, other, c[3]},
		}, []string{"grant alice 198.18.0.2 step=T+0", "grant carol 198.18.0.3 step=T+0"}},
		{"across a step boundary", nil, knocks(client, 25*time.Second-100*time.Millisecond, a...), []string{"grant alice 198.18.0.2 step=T+0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := send(t, newMatcher(t, tt.used), tt.pkts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSweepsOpenNothing sweeps the whole knock range, TCP and UDP, in
// ascending and in random order, from one source; every user's current
// sequences are in the window, yet nothing may complete.
func TestSweepsOpenNothing(t *testing.T) {
	p := derive.DefaultParams()
	var all []derive.Knock
	for _, proto := range []derive.Proto{derive.TCP, derive.UDP} {
		for port := int(p.PortMin); port <= int(p.PortMax); port++ {
			all = append(all, derive.Knock{Proto: proto, Port: uint16(port)})
		}
	}
	shuffled := append([]derive.Knock(nil), all...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for name, order := range map[string][]derive.Knock{"ascending": all, "random": shuffled} {
		t.Run(name, func(t *testing.T) {
			m := newMatcher(t, nil)
			var pkts []pkt
			for i, k := range order {
				pkts = append(pkts, pkt{time.Duration(i) * 50 * time.Microsecond, client, k})
			}
			if got := send(t, m, pkts); len(got) != 0 {
				t.Errorf("a sweep of %d packets opened: %v", len(pkts), got)
			}
			if st := m.Stats(); st.Started == 0 || st.Completed != 0 {
				t.Errorf("stats %+v: the sweep should start candidates and complete none", st)
			}
		})
	}
}

func TestNoStateForStrays(t *testing.T) {
	m := newMatcher(t, nil)
	a := seqOf(t, "alice", stepT, netip.Addr{})
	for i := 0; i < 1000; i++ {
		src := netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
		k := stray(uint16(20000 + i))
		if k == a[0] {
			continue
		}
		send(t, m, []pkt{{0, src, k}})
	}
	if st := m.Stats(); st.Sources > 3 {
		t.Errorf("%d sources tracked for stray packets, want (almost) none: %+v", st.Sources, st)
	}
}

func TestSourceCap(t *testing.T) {
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second, MaxSources: 100}, testUsers(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := seqOf(t, "alice", stepT, netip.Addr{})
	for i := 0; i < 1000; i++ {
		send(t, m, []pkt{{0, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), a[0]}})
	}
	if st := m.Stats(); st.Sources > 100 || st.Evicted < 900 {
		t.Errorf("stats %+v: want at most 100 sources, 900 evicted", st)
	}
	// The newest source still completes.
	last := netip.AddrFrom4([4]byte{198, 18, 999 >> 8, 999 & 0xff})
	if got := send(t, m, knocks(last, 0, a[1:]...)); len(got) != 1 {
		t.Errorf("newest source: %v", got)
	}
	if used := m.Used(); used["alice"] != stepT {
		t.Errorf("Used() = %v", used)
	}
}

// TestSweepsManyUsers sweeps the range in order and shuffled against
// 1,000 users (3,000 candidates in the window): nothing may complete.
func TestSweepsManyUsers(t *testing.T) {
	us := make([]User, 1000)
	for i := range us {
		us[i] = User{Name: fmt.Sprintf("u%d", i), Secret: []byte(fmt.Sprintf("secret of sweep user %012d", i)), Open: ssh}
	}
	p := derive.DefaultParams()
	var all []derive.Knock
	for port := int(p.PortMin); port <= int(p.PortMax); port++ {
		for _, proto := range []derive.Proto{derive.TCP, derive.UDP} { // interleaved, as a careful attacker would
			all = append(all, derive.Knock{Proto: proto, Port: uint16(port)})
		}
	}
	shuffled := append([]derive.Knock(nil), all...)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for name, order := range map[string][]derive.Knock{"interleaved ascending": all, "random": shuffled} {
		m, err := New(Config{ServerID: "gw1", Params: p, Skew: 1, SequenceTimeout: 10 * time.Second, StrayTolerance: DefaultStrayTolerance}, us, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range order {
			if ev, ok, _ := m.Handle(t0.Add(time.Duration(i)*10*time.Microsecond), client, k, nil); ok {
				t.Errorf("%s sweep completed %v at packet %d", name, ev, i)
			}
		}
		if st := m.Stats(); st.Started < 1000 {
			t.Errorf("%s: only %d candidates started", name, st.Started)
		}
	}
}

// TestMarkUsed checks that steps marked used are refused and that a
// marked step never moves a user's last used step back.
func TestMarkUsed(t *testing.T) {
	a := seqOf(t, "alice", stepT, netip.Addr{})
	c := seqOf(t, "carol", stepT, netip.Addr{})
	tests := []struct {
		name  string
		start map[string]uint64 // from the state file
		mark  map[string]uint64
		want  []string
		used  map[string]uint64
	}{
		{"marked step replays", nil, map[string]uint64{"alice": stepT},
			[]string{"replay alice 198.18.0.2 step=T+0", "grant carol 198.18.0.3 step=T+0"},
			map[string]uint64{"alice": stepT, "carol": stepT}},
		{"an older mark does not lower the last used step", map[string]uint64{"alice": stepT}, map[string]uint64{"alice": stepT - 5},
			[]string{"replay alice 198.18.0.2 step=T+0", "grant carol 198.18.0.3 step=T+0"},
			map[string]uint64{"alice": stepT, "carol": stepT}},
		{"unknown users are ignored", nil, map[string]uint64{"mallory": stepT},
			[]string{"grant alice 198.18.0.2 step=T+0", "grant carol 198.18.0.3 step=T+0"},
			map[string]uint64{"alice": stepT, "carol": stepT}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMatcher(t, tt.start)
			m.MarkUsed(tt.mark)
			got := send(t, m, cat(knocks(client, 0, a...), knocks(other, 0, c...)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.used, m.Used()); diff != "" {
				t.Errorf("Used() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBoundStraysDeriveNothing is the cost of source binding on the
// packet path: with 200 source-bound users among 400, a packet that
// starts nothing derives no sequence (it did 2*skew+1 per bound user
// before their first knocks were indexed), and a bound user's first
// knock derives its sequence once, for that source.
func TestBoundStraysDeriveNothing(t *testing.T) {
	us := manyUsers(400)
	for i := 0; i < len(us); i += 2 {
		us[i].Bind = true
	}
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance}, us, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Advance(t0); err != nil {
		t.Fatal(err)
	}
	pkts := nonStarting(m, 20000)
	for _, p := range pkts {
		if _, ok, err := m.Handle(t0, p.src, p.k, nil); ok || err != nil {
			t.Fatalf("a non-starting packet led to an event (%v)", err)
		}
	}
	if st := m.Stats(); st.Derived != 0 || st.Started != 0 {
		t.Errorf("%d non-starting packets: %d sequences derived, %d started; want none", len(pkts), st.Derived, st.Started)
	}
	b, err := derive.Sequence(us[0].Secret, "gw1", derive.DefaultParams(), stepT, client)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, k := range b {
		if ev, ok, err := m.Handle(t0.Add(time.Duration(i)*50*time.Millisecond), client, k, nil); err != nil {
			t.Fatal(err)
		} else if ok {
			got = append(got, fmt.Sprintf("%v %s %v", ev.Kind, ev.User, ev.Addrs))
		}
	}
	if diff := cmp.Diff([]string{"grant u0 [198.18.0.2]"}, got); diff != "" {
		t.Errorf("bound user's sequence (-want +got):\n%s", diff)
	}
	if st := m.Stats(); st.Derived != 1 {
		t.Errorf("the bound user's sequence derived %d times, want once", st.Derived)
	}
}
