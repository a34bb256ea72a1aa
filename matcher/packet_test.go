package matcher

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

var (
	client6 = netip.MustParseAddr("2001:2::2")
	natted  = netip.MustParseAddr("198.19.7.7") // inside from, as a NAT's public address would be
)

// packetUsers are a packet user, a source-bound packet user and a
// sequence user.
func packetUsers() []User {
	from := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("2001:2::/48")}
	return []User{
		{Name: "dave", Secret: []byte("dave's packet secret, 32 bytes!!"), Open: ssh, From: from, Mode: derive.ModePacket},
		{Name: "erin", Secret: []byte("erin's bound packet secret, 32 b"), Open: ssh, Bind: true, Mode: derive.ModePacket},
		{Name: "alice", Secret: []byte("alice's secret, 32 bytes long!!!"), Open: ssh, From: from},
	}
}

func newPacketMatcher(t testing.TB, used map[string]uint64) *Matcher {
	t.Helper()
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance}, packetUsers(), used)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sealed is a packet knock: the element and the payload.
type sealed struct {
	k       derive.Knock
	payload []byte
}

// seal makes name's packet knock of step with claim; bound is the
// source a bound user's tag covers; nonce is 16 copies of n.
func seal(t testing.TB, name string, step uint64, claim derive.Claim, bound netip.Addr, n byte) sealed {
	t.Helper()
	for _, u := range packetUsers() {
		if u.Name != name {
			continue
		}
		pd, err := derive.NewPacket(u.Secret, "gw1", derive.DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		k, err := pd.Knock(step)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pd.Seal(nil, step, bytes.Repeat([]byte{n}, derive.NonceSize), claim, bound, 80)
		if err != nil {
			t.Fatal(err)
		}
		return sealed{k, p}
	}
	t.Fatalf("no user %s", name)
	return sealed{}
}

// forgeClaim returns p with a nonzero padding byte and a tag that
// verifies: what only a holder of the secret can send, and a malformed
// claim (spec section 11.5, check 3). It computes the tag of section
// 11.3 itself, taking the params field from the sequence message M(1).
func forgeClaim(t testing.TB, name string, step uint64, p sealed) sealed {
	t.Helper()
	var secret []byte
	for _, u := range packetUsers() {
		if u.Name == name {
			secret = u.Secret
		}
	}
	d, err := derive.New(secret, "gw1", derive.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	m1 := d.Message(1, step, netip.Addr{})
	off := 4 + 2 + len(derive.Label) + 8 + 2 + len("gw1")
	params := m1[off : off+2+int(binary.BigEndian.Uint16(m1[off:]))] // lp(params)
	out := bytes.Clone(p.payload)
	body := out[derive.NonceSize : len(out)-derive.TagSize]
	body[len(body)-1] ^= 1 // the last padding byte: no longer zero
	lp := func(b []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...) }
	mac := hmac.New(sha256.New, secret)
	mac.Write(binary.BigEndian.AppendUint32(nil, 0))
	mac.Write(lp([]byte(derive.PacketTagLabel)))
	mac.Write(binary.BigEndian.AppendUint64(nil, step))
	mac.Write(lp([]byte("gw1")))
	mac.Write(params)
	mac.Write([]byte{byte(p.k.Proto), byte(p.k.Port >> 8), byte(p.k.Port)})
	mac.Write(lp(out[:derive.NonceSize]))
	mac.Write(lp(body))
	mac.Write(lp(nil))
	copy(out[len(out)-derive.TagSize:], mac.Sum(nil))
	return sealed{p.k, out}
}

// ppkt is one packet of a packet-mode scenario.
type ppkt struct {
	src     netip.Addr
	k       derive.Knock
	payload []byte
}

func from(src netip.Addr, s sealed) ppkt { return ppkt{src, s.k, s.payload} }

// sendPackets feeds the packets, 10 ms apart, and returns the events as
// strings with their addresses and reasons.
func sendPackets(t testing.TB, m *Matcher, pkts []ppkt) []string {
	t.Helper()
	var out []string
	for i, p := range pkts {
		ev, ok, err := m.Handle(t0.Add(time.Duration(i)*10*time.Millisecond), p.src, p.k, p.payload)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			s := fmt.Sprintf("%v %v %s %v step=T%+d addrs=%v", ev.Kind, ev.Mode, ev.User, ev.Src, int64(ev.Step-stepT), ev.Addrs)
			if ev.Reason != "" {
				s += " (" + ev.Reason + ")"
			}
			out = append(out, s)
		}
	}
	return out
}

// packetCounts are the counters a packet-mode scenario checks.
type packetCounts struct{ BadSize, BadTag, BadClaim, PacketGrants, Started uint64 }

func TestPacketKnocks(t *testing.T) {
	none := netip.Addr{}
	claim := func(source bool, addrs ...netip.Addr) derive.Claim { return derive.Claim{Addrs: addrs, Source: source} }
	dT := seal(t, "dave", stepT, claim(false, client), none, 1)
	dT2 := seal(t, "dave", stepT, claim(false, client), none, 2) // a retry: new nonce
	dNext := seal(t, "dave", stepT+1, claim(false, client), none, 3)
	dPrev := seal(t, "dave", stepT-1, claim(false, client), none, 4)
	dFar := seal(t, "dave", stepT, claim(false, far), none, 5)
	eClient := seal(t, "erin", stepT, claim(false, client), client, 6)
	badTag := seal(t, "dave", stepT, claim(false, client), none, 7)
	badTag.payload = bytes.Clone(badTag.payload)
	badTag.payload[derive.NonceSize] ^= 0x80
	a := seqOf(t, "alice", stepT, netip.Addr{})
	tests := []struct {
		name  string
		used  map[string]uint64
		pkts  []ppkt
		want  []string
		count packetCounts
	}{
		{"grant opens the claim", nil, []ppkt{from(client, dT)},
			[]string{"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"dual-stack claim opens both", nil, []ppkt{from(client6, seal(t, "dave", stepT, claim(false, client, client6), none, 1))},
			[]string{"grant packet dave 2001:2::2 step=T+0 addrs=[198.18.0.2 2001:2::2]"}, packetCounts{PacketGrants: 1}},
		{"Source opens the source and the claim", nil, []ppkt{from(natted, seal(t, "dave", stepT, claim(true, client6), none, 1))},
			[]string{"grant packet dave 198.19.7.7 step=T+0 addrs=[2001:2::2 198.19.7.7]"}, packetCounts{PacketGrants: 1}},
		{"claimed addresses outside from are not opened", nil, []ppkt{from(client, seal(t, "dave", stepT, claim(false, far, client), none, 1))},
			[]string{"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"source not in the claim: refused, step not used", nil, []ppkt{from(other, dT), from(client, dT2)}, []string{
			"refused packet dave 198.18.0.3 step=T+0 addrs=[198.18.0.2] (source not among the claimed addresses)",
			"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"source outside from: refused, step not used", nil, []ppkt{from(far, dFar), from(client, dT)}, []string{
			"refused packet dave 203.0.113.9 step=T+0 addrs=[203.0.113.9] (source outside from)",
			"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"the same payload again is a duplicate", nil, []ppkt{from(client, dT), from(client, dT)}, []string{
			"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]",
			"duplicate packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"a copy of a granted knock (same claim and source) is a duplicate", nil, []ppkt{from(client, dT), from(client, dT2)}, []string{
			"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]",
			"duplicate packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"the granted step from another source is a replay", nil, []ppkt{from(client, dT), from(other, dT2)}, []string{
			"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]",
			"replay packet dave 198.18.0.3 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"the granted step with another claim is a replay", nil,
			[]ppkt{from(client, dT), from(client, seal(t, "dave", stepT, claim(false, client, client6), none, 8)), from(client, seal(t, "dave", stepT, claim(true, client), none, 9))}, []string{
				"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]",
				"replay packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2 2001:2::2]",
				"replay packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 1}},
		{"the next step is fresh, an older one a replay", nil, []ppkt{from(client, dT), from(client, dNext), from(client, dPrev)}, []string{
			"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]",
			"grant packet dave 198.18.0.2 step=T+1 addrs=[198.18.0.2]",
			"replay packet dave 198.18.0.2 step=T-1 addrs=[198.18.0.2]"}, packetCounts{PacketGrants: 2}},
		{"a step used by a sequence (state file) is a replay", map[string]uint64{"dave": stepT}, []ppkt{from(client, dT)},
			[]string{"replay packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{}},
		{"wrong tag counted, changes nothing", nil, []ppkt{from(client, badTag), from(client, dT)},
			[]string{"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{BadTag: 1, PacketGrants: 1}},
		{"malformed claim counted, changes nothing", nil, []ppkt{from(client, forgeClaim(t, "dave", stepT, dT)), from(client, dT2)},
			[]string{"grant packet dave 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{BadClaim: 1, PacketGrants: 1}},
		{"payload sizes out of range counted", nil, []ppkt{
			{client, dT.k, dT.payload[:derive.MinPayload-1]},
			{client, dT.k, append(bytes.Clone(dT.payload), make([]byte, derive.MaxPayload)...)},
		}, nil, packetCounts{BadSize: 2}},
		{"a bare packet to the element is nothing", nil, []ppkt{{client, dT.k, nil}}, nil, packetCounts{}},
		{"the payload to another element is nothing", nil, []ppkt{{client, stray(1), dT.payload}}, nil, packetCounts{}},
		{"bound: from another address the tag fails", nil, []ppkt{from(other, eClient), from(client, eClient)},
			[]string{"grant packet erin 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{BadTag: 1, PacketGrants: 1}},
		{"a sequence user ignores the payload", nil, []ppkt{{client, a[0], dT.payload}, {client, a[1], nil}, {client, a[2], dT.payload}, {client, a[3], nil}},
			[]string{"grant sequence alice 198.18.0.2 step=T+0 addrs=[198.18.0.2]"}, packetCounts{Started: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newPacketMatcher(t, tt.used)
			got := sendPackets(t, m, tt.pkts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			st := m.Stats()
			gotCount := packetCounts{st.BadSize, st.BadTag, st.BadClaim, st.PacketGrants, st.Started}
			if diff := cmp.Diff(tt.count, gotCount); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPacketUserNoSequence checks that a packet user's element never
// starts a sequence candidate and that a packet user's knock is not a
// sequence: its elements sent bare, for every step of the window, leave
// no state.
func TestPacketUserNoSequence(t *testing.T) {
	m := newPacketMatcher(t, nil)
	var pkts []ppkt
	for st := stepT - 1; st <= stepT+1; st++ {
		for _, name := range []string{"dave", "erin"} {
			s := seal(t, name, st, derive.Claim{Addrs: []netip.Addr{client}}, client, 1)
			pkts = append(pkts, ppkt{client, s.k, nil})
		}
	}
	if got := sendPackets(t, m, pkts); len(got) != 0 {
		t.Errorf("bare elements led to %v", got)
	}
	if st := m.Stats(); st.Started != 0 || st.Sources != 0 {
		t.Errorf("stats %+v: bare elements started candidates", st)
	}
}

// TestPacketOpenAllocs checks that a packet knock whose tag fails
// allocates nothing.
func TestPacketOpenAllocs(t *testing.T) {
	m := newPacketMatcher(t, nil)
	p := seal(t, "dave", stepT, derive.Claim{Addrs: []netip.Addr{client}}, netip.Addr{}, 1)
	p.payload[derive.NonceSize] ^= 1
	if err := m.Advance(t0); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok, err := m.Handle(t0, client, p.k, p.payload); ok || err != nil {
			t.Fatalf("a bad tag led to an event (%v)", err)
		}
	})
	if allocs != 0 {
		t.Errorf("a bad tag allocates %.0f times, want 0", allocs)
	}
}

// TestKeepGrants: a matcher that replaced another (a reload) takes over
// its record of grants with the used steps, so a copy of a grant made
// before stays a Duplicate, numbered on; a matcher whose used step is
// not that grant's does not.
func TestKeepGrants(t *testing.T) {
	dT := seal(t, "dave", stepT, derive.Claim{Addrs: []netip.Addr{client}}, netip.Addr{}, 1)
	dT2 := seal(t, "dave", stepT, derive.Claim{Addrs: []netip.Addr{client}}, netip.Addr{}, 2)
	old := newPacketMatcher(t, nil)
	sendPackets(t, old, []ppkt{from(client, dT), from(client, dT2)})
	for _, tc := range []struct {
		name string
		used map[string]uint64
		want Kind
		copy int
	}{
		{"after a reload", old.Used(), Duplicate, 2},
		{"a later step used since", map[string]uint64{"dave": stepT + 1}, Replay, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newPacketMatcher(t, nil)
			m.MarkUsed(tc.used)
			m.KeepGrants(old)
			ev, ok, err := m.Handle(t0.Add(time.Second), client, dT2.k, dT2.payload)
			if err != nil || !ok || ev.Kind != tc.want || ev.Copy != tc.copy {
				t.Errorf("a copy after the swap: %v %v, kind %v copy %d; want %v copy %d", ok, err, ev.Kind, ev.Copy, tc.want, tc.copy)
			}
		})
	}
}
