package fleet_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/fleet"
)

// TestWriteGrantLeavesAtOnce: on JetStream, WriteGrant has written the
// grant to the server's connection when it returns (nothing is left for
// the connection's writer goroutine), the grants arrive in order, and
// Confirm returns once the server has them. A closed connection fails
// the write.
func TestWriteGrantLeavesAtOnce(t *testing.T) {
	srv := natsServer(t)
	one, two := dial(t, srv, "one"), dial(t, srv, "two")
	var mu sync.Mutex
	var got []uint64
	if err := two.SubscribeGrants(t.Context(), "vpn", func(g fleet.Grant) { mu.Lock(); got = append(got, g.Step); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for step := range uint64(50) {
		g := fleet.Grant{Identity: "vpn", Member: "a", User: "alice", Step: step, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
			Open: []string{"tcp/22"}, Sent: time.Now()}
		if err := one.WriteGrant(g); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if n := fleet.Buffered(one); n != 0 {
			t.Fatalf("step %d: %d bytes still buffered after WriteGrant, want 0 (written on the caller's goroutine)", step, n)
		}
		want = append(want, step)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := one.Confirm(ctx); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	eventually(t, 2*time.Second, "50 grants delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == len(want) })
	mu.Lock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps delivered (-want +got):\n%s", diff)
	}
	mu.Unlock()
	one.Close()
	if err := one.WriteGrant(fleet.Grant{Identity: "vpn", User: "alice"}); err == nil {
		t.Error("WriteGrant on a closed connection: nil error")
	}
}

// TestPublishOnJetStream: a member's grants and audit events reach the
// pool and the audit subject and are counted sent once confirmed; once
// the store's connection is gone, a grant counts a failure.
func TestPublishOnJetStream(t *testing.T) {
	srv := natsServer(t)
	admin := keyPair(t)
	store := dial(t, srv, "a")
	a, err := join(t, t.Context(), store, admin, "a", "vpn", "", fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	b, err := join(t, t.Context(), dial(t, srv, "b"), admin, "b", "vpn", "", fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	if err := dial(t, srv, "auditor").SubscribeEvents(t.Context(), func(e fleet.Event) {
		mu.Lock()
		events = append(events, e.Member+" "+e.Kind+" "+e.User)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	for step := range uint64(3) {
		a.Publish(fleet.Grant{User: "alice", Step: step, Open: []string{"tcp/22"}, Sent: time.Now()}, make([]byte, 32))
		a.Audit(fleet.Event{Kind: "grant", User: "alice", Step: step})
	}
	eventually(t, 2*time.Second, "b applied 3 grants", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.grants) == 3 })
	eventually(t, 2*time.Second, "3 audit events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 })
	eventually(t, 2*time.Second, "3 grants counted sent", func() bool { return a.Stats().FanoutSent == 3 })
	mu.Lock()
	if diff := cmp.Diff([]string{"a grant alice", "a grant alice", "a grant alice"}, events); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
	mu.Unlock()
	b.mu.Lock()
	for i, g := range b.grants {
		if g.Step != uint64(i) || g.Member != "a" || !fleet.VerifyGrant(g, make([]byte, 32)) {
			t.Errorf("grant %d: %+v, want a's signed grant of step %d", i, g, i)
		}
	}
	b.mu.Unlock()
	if st := a.Stats(); st.FanoutFailed != 0 || st.StoreErrors != 0 {
		t.Errorf("a's stats %+v, want no failure", st)
	}

	store.Close()
	a.Publish(fleet.Grant{User: "alice", Step: 9, Open: []string{"tcp/22"}, Sent: time.Now()}, make([]byte, 32))
	if st := a.Stats(); st.FanoutFailed != 1 || st.FanoutSent != 3 {
		t.Errorf("after the connection closed: stats %+v, want 1 failed, 3 sent", st)
	}
}
