package fleet_test

import (
	"errors"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
)

// stores are the Store implementations the contract runs against: the
// in-process NATS JetStream one and the in-memory fake. Each returns
// two handles on one fleet, as two members would have.
func stores(t *testing.T) map[string]func(t *testing.T) (fleet.Store, fleet.Store) {
	return map[string]func(t *testing.T) (fleet.Store, fleet.Store){
		"jetstream": func(t *testing.T) (fleet.Store, fleet.Store) {
			s := natsServer(t)
			return dial(t, s, "one"), dial(t, s, "two")
		},
		"memory": func(t *testing.T) (fleet.Store, fleet.Store) {
			m := fleettest.NewMemory()
			return m, m
		},
	}
}

// eventually polls cond every 10 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("after %v: %s", d, what)
}

func TestStoreContract(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			one, two := open(t)
			var mu sync.Mutex
			changes := 0
			if err := two.WatchRecords(ctx, func() { mu.Lock(); changes++; mu.Unlock() }); err != nil {
				t.Fatal(err)
			}
			for _, r := range []fleet.Record{{User: "alice", Member: "a", Box: []byte{1}}, {User: "alice", Member: "b", Box: []byte{2}},
				{User: "bob.x", Member: "a.b", Box: []byte{3}}} {
				if err := one.PutRecord(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 2*time.Second, "the watcher saw 3 changes", func() bool { mu.Lock(); defer mu.Unlock(); return changes >= 3 })
			if err := one.DeleteUser(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			got, err := two.Records(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]fleet.Record{{User: "bob.x", Member: "a.b", Box: []byte{3}}}, got); diff != "" {
				t.Errorf("records after removing alice (-want +got):\n%s", diff)
			}
			eventually(t, 2*time.Second, "the watcher saw the removal", func() bool { mu.Lock(); defer mu.Unlock(); return changes >= 4 })

			if err := one.UseStep(ctx, "vpn", "alice", 7); err != nil {
				t.Fatalf("first use: %v", err)
			}
			for _, s := range []fleet.Store{one, two} {
				if err := s.UseStep(ctx, "vpn", "alice", 7); !errors.Is(err, fleet.ErrUsed) {
					t.Fatalf("second use: %v, want ErrUsed", err)
				}
			}
			for _, other := range [][2]any{{"vpn", uint64(8)}, {"bastion", uint64(7)}} {
				if err := two.UseStep(ctx, other[0].(string), "alice", other[1].(uint64)); err != nil {
					t.Errorf("use of %v: %v, want a first use", other, err)
				}
			}

			var grants []fleet.Grant
			done := make(chan struct{}, 4)
			if err := two.SubscribeGrants(ctx, "vpn", func(g fleet.Grant) { mu.Lock(); grants = append(grants, g); mu.Unlock(); done <- struct{}{} }); err != nil {
				t.Fatal(err)
			}
			g := fleet.Grant{Identity: "vpn", Member: "a", User: "alice", Step: 7, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
				Open: []string{"tcp/22"}, Timeout: 30 * time.Second, Sent: time.Unix(1, 0).UTC()}
			if err := one.PublishGrant(ctx, fleet.Grant{Identity: "bastion", User: "x"}); err != nil {
				t.Fatal(err)
			}
			if err := one.PublishGrant(ctx, g); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				t.Fatal("no grant delivered")
			}
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			if diff := cmp.Diff([]fleet.Grant{g}, grants, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("grants delivered to vpn (-want +got):\n%s", diff)
			}
			mu.Unlock()

			if err := one.PutMember(ctx, fleet.MemberInfo{Name: "b", Identity: "vpn", Public: make([]byte, 32)}); err != nil {
				t.Fatal(err)
			}
			if err := two.PutMember(ctx, fleet.MemberInfo{Name: "a", Identity: "vpn", Public: make([]byte, 32)}); err != nil {
				t.Fatal(err)
			}
			ms, err := one.Members(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
			if len(ms) != 2 || ms[0].Name != "a" || ms[1].Name != "b" {
				t.Errorf("members %+v, want a and b", ms)
			}
		})
	}
}
