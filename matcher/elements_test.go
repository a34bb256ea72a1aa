package matcher

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

// TestElements lists a window's elements, computed independently from
// the users: every sequence user's first knock (source-bound ones too)
// and every packet user's element of steps T-1..T+1, each until the
// start of the step after its last step plus the skew.
func TestElements(t *testing.T) {
	users := append(testUsers(), packetUsers()[:2]...)
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance}, users, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Window() != nil {
		t.Fatalf("a window before the first Advance")
	}
	if err := m.Advance(t0); err != nil {
		t.Fatal(err)
	}
	until := map[derive.Knock]time.Time{}
	for s := stepT - 1; s <= stepT+1; s++ {
		for _, u := range users {
			var k derive.Knock
			if u.Mode == derive.ModePacket {
				pd, err := derive.NewPacket(u.Secret, "gw1", derive.DefaultParams())
				if err != nil {
					t.Fatal(err)
				}
				k, err = pd.Knock(s)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				ks, err := derive.Sequence(u.Secret, "gw1", derive.DefaultParams(), s, client)
				if err != nil {
					t.Fatal(err)
				}
				k = ks[0]
			}
			until[k] = derive.StepStart(s+2, 30*time.Second)
		}
	}
	var want []Element
	for k, u := range until {
		want = append(want, Element{k, u})
	}
	slices.SortFunc(want, func(a, b Element) int { return key(a.Knock) - key(b.Knock) })
	w := m.Window()
	if w.Step() != stepT {
		t.Errorf("Step() = %d, want %d", w.Step(), stepT)
	}
	if diff := cmp.Diff(want, w.Elements()); diff != "" {
		t.Errorf("Elements() (-want +got):\n%s", diff)
	}
	if len(want) < 12 {
		t.Errorf("only %d distinct elements for 5 users and 3 steps", len(want))
	}
}

// TestTrack checks the hook: called once per sequence started, with the
// time its candidate times out; never for a stray, a repeated first
// knock, or a packet user's element.
func TestTrack(t *testing.T) {
	type call struct {
		Src   string
		Until time.Duration // after t0
	}
	var calls []call
	users := append(testUsers(), packetUsers()[0])
	m, err := New(Config{ServerID: "gw1", Params: derive.DefaultParams(), Skew: 1, SequenceTimeout: 10 * time.Second,
		StrayTolerance: DefaultStrayTolerance, Track: func(src netip.Addr, until time.Time) {
			calls = append(calls, call{src.String(), until.Sub(t0)})
		}}, users, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := seqOf(t, "alice", stepT, netip.Addr{})
	pd, err := derive.NewPacket(packetUsers()[0].Secret, "gw1", derive.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	dave, err := pd.Knock(stepT)
	if err != nil {
		t.Fatal(err)
	}
	send(t, m, cat(
		strays(other, 100, 3),                   // start nothing
		knocks(client, time.Second, alice[0]),   // starts alice's sequence
		knocks(client, 2*time.Second, alice[0]), // a repeat: no new candidate
		knocks(other, 3*time.Second, dave),      // a packet user's element
		knocks(other, 4*time.Second, alice[:2]...),
	))
	want := []call{{client.String(), 11 * time.Second}, {other.String(), 14 * time.Second}}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("Track calls (-want +got):\n%s", diff)
	}
}
