package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
)

// testMember is a member and what its callbacks saw.
type testMember struct {
	*fleet.Member
	mu     sync.Mutex
	users  []string
	grants []fleet.Grant
	log    bytes.Buffer
	key    fleet.KeyPair
}

// lockedWriter writes to w under mu: the member logs from its own
// goroutines while the test reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (tm *testMember) userNames() []string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return slices.Clone(tm.users)
}

func join(t *testing.T, ctx context.Context, s fleet.Store, admin fleet.KeyPair, name, identity, cache string, u fleet.Unavailable) (*testMember, error) {
	t.Helper()
	return joinWith(ctx, s, admin, keyPair(t), name, identity, cache, u)
}

// joinWith starts member name of identity with its key pair key.
func joinWith(ctx context.Context, s fleet.Store, admin, key fleet.KeyPair, name, identity, cache string, u fleet.Unavailable) (*testMember, error) {
	tm := &testMember{key: key}
	cfg := fleet.MemberConfig{Name: name, Identity: identity, Key: tm.key, Admin: admin.Public, CacheFile: cache, Unavailable: u,
		Log: slog.New(slog.NewTextHandler(lockedWriter{&tm.mu, &tm.log}, nil)),
		OnUsers: func(us []fleet.UserKey) {
			tm.mu.Lock()
			tm.users = nil
			for _, u := range us {
				tm.users = append(tm.users, u.User)
			}
			tm.mu.Unlock()
		},
		OnGrant: func(g fleet.Grant) { tm.mu.Lock(); tm.grants = append(tm.grants, g); tm.mu.Unlock() },
	}
	m, err := fleet.Join(ctx, s, cfg)
	tm.Member = m
	return tm, err
}

// addUser seals user for every registered member, as user add does.
func addUser(t *testing.T, s fleet.Store, admin fleet.KeyPair, user string) {
	t.Helper()
	ms, err := s.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := fleet.SealUser(admin, "acme", bytes.Repeat([]byte{9}, 32), ms, fleet.UserKey{User: user, Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := s.PutRecord(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMembersApplyUsers: over NATS, every member applies a user added or
// removed by the administrator within 2 s, without a reload; a record
// sealed by another key is ignored.
func TestMembersApplyUsers(t *testing.T) {
	srv := natsServer(t)
	admin := keyPair(t)
	var members []*testMember
	for _, n := range []string{"m1", "m2", "m3"} {
		m, err := join(t, t.Context(), dial(t, srv, n), admin, n, "vpn.example.org", filepath.Join(t.TempDir(), "cache"), fleet.Local)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
	}
	adm := dial(t, srv, "admin")
	start := time.Now()
	addUser(t, adm, admin, "alice")
	addUser(t, adm, keyPair(t), "mallory") // not the administrator's key
	for _, m := range members {
		eventually(t, 2*time.Second, "alice added on every member", func() bool { return slices.Equal(m.userNames(), []string{"alice"}) })
	}
	t.Logf("added on 3 members in %v", time.Since(start))
	start = time.Now()
	if err := adm.DeleteUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		eventually(t, 2*time.Second, "alice removed on every member", func() bool { return len(m.userNames()) == 0 })
	}
	t.Logf("removed on 3 members in %v", time.Since(start))
}

// TestMemberStartsFromLastCopy: a member that starts while the store is
// unreachable uses the last copy of its users and says so; with no copy
// it cannot start; when the store is back it catches up.
func TestMemberStartsFromLastCopy(t *testing.T) {
	s := fleettest.NewMemory()
	admin := keyPair(t)
	cache := filepath.Join(t.TempDir(), "cache")
	ctx, cancel := context.WithCancel(t.Context())
	first, err := join(t, ctx, s, admin, "m1", "vpn", cache, fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, s, admin, "alice")
	eventually(t, 2*time.Second, "alice applied", func() bool { return len(first.userNames()) == 1 })
	cancel()

	s.SetDown(true)
	if _, err := join(t, t.Context(), s, admin, "m2", "vpn", filepath.Join(t.TempDir(), "none"), fleet.Local); err == nil {
		t.Fatal("a member with no last copy started while the store is down")
	}
	// The restarted member has the same key: its cache opens.
	again := rejoin(t, s, admin, first.key, "m1", cache)
	m := again.Member
	if !slices.Equal(again.userNames(), []string{"alice"}) || m.Connected() {
		t.Fatalf("from the last copy: users %v, connected %v; want alice, not connected", again.userNames(), m.Connected())
	}
	if !strings.Contains(again.log.String(), "using the last copy") {
		t.Errorf("log %q does not say it uses the last copy", again.log.String())
	}
	s.SetDown(false)
	addUser(t, s, admin, "bob")
	eventually(t, 3*time.Second, "caught up with bob", func() bool { return slices.Equal(again.userNames(), []string{"alice", "bob"}) })
}

// TestUseStepUnavailable: with the store down, local grants (counted)
// and refuse refuses; with it up, a step is used once pool-wide.
func TestUseStepUnavailable(t *testing.T) {
	s := fleettest.NewMemory()
	admin := keyPair(t)
	local, err := join(t, t.Context(), s, admin, "m1", "vpn", "", fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	refuse, err := join(t, t.Context(), s, admin, "m2", "vpn", "", fleet.Refuse)
	if err != nil {
		t.Fatal(err)
	}
	if err := local.UseStep("alice", 5); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := refuse.UseStep("alice", 5); !errors.Is(err, fleet.ErrUsed) {
		t.Fatalf("second use on another member: %v, want ErrUsed", err)
	}
	s.SetDown(true)
	if err := local.UseStep("alice", 6); err != nil {
		t.Errorf("local, store down: %v, want a local grant", err)
	}
	if err := refuse.UseStep("alice", 6); !errors.Is(err, fleet.ErrUnavailable) {
		t.Errorf("refuse, store down: %v, want ErrUnavailable", err)
	}
	if st := local.Stats(); st.LocalGrants != 1 || st.StoreErrors != 1 {
		t.Errorf("local member stats %+v, want 1 local grant and 1 store error", st)
	}
}

// TestPeerGrants: a grant published by one member reaches the other
// members of its pool, not itself, and not another pool.
func TestPeerGrants(t *testing.T) {
	srv := natsServer(t)
	admin := keyPair(t)
	a, _ := join(t, t.Context(), dial(t, srv, "a"), admin, "a", "vpn", "", fleet.Local)
	b, _ := join(t, t.Context(), dial(t, srv, "b"), admin, "b", "vpn", "", fleet.Local)
	c, _ := join(t, t.Context(), dial(t, srv, "c"), admin, "c", "bastion", "", fleet.Local)
	a.Publish(fleet.Grant{User: "alice", Step: 9, Open: []string{"tcp/22"}, Sent: time.Now()}, make([]byte, 32))
	eventually(t, 2*time.Second, "b applied a's grant", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.grants) == 1 })
	time.Sleep(100 * time.Millisecond)
	for name, m := range map[string]*testMember{"a (the sender)": a, "c (another pool)": c} {
		m.mu.Lock()
		if len(m.grants) != 0 {
			t.Errorf("%s applied %d grants, want 0", name, len(m.grants))
		}
		m.mu.Unlock()
	}
	if st := a.Stats(); st.FanoutSent != 1 {
		t.Errorf("a's stats %+v, want 1 sent", st)
	}
	if g := b.grants[0]; g.Member != "a" || g.Identity != "vpn" || g.User != "alice" {
		t.Errorf("b got %+v, want a's grant of alice on vpn", g)
	}
}

// TestMemberSaysWhenUnreachable: a member whose store goes away says
// that pool fan-out and replay refusal are down, and when it is back
// that it caught up.
func TestMemberSaysWhenUnreachable(t *testing.T) {
	s := fleettest.NewMemory()
	m, err := join(t, t.Context(), s, keyPair(t), "m1", "vpn", "", fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	logged := func(what string) func() bool {
		return func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return strings.Contains(m.log.String(), what)
		}
	}
	s.SetDown(true)
	eventually(t, 3*time.Second, "the member says the fleet is unreachable", logged("pool fan-out and pool-wide replay refusal are down"))
	if m.Connected() {
		t.Error("Connected while the store is down")
	}
	s.SetDown(false)
	eventually(t, 3*time.Second, "the member says it caught up", logged("users caught up"))
}

// TestUseStepBackoff: after the store fails, UseStep leaves it alone for
// the backoff (local grants, no wait on the packet path), then asks it
// again.
func TestUseStepBackoff(t *testing.T) {
	s := fleettest.NewMemory()
	m, err := fleet.Join(t.Context(), s, fleet.MemberConfig{Name: "m1", Identity: "vpn", Key: keyPair(t),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.SetDown(true)
	if err := m.UseStep("alice", 1); err != nil {
		t.Fatalf("store down: %v, want a local grant", err)
	}
	s.SetDown(false)
	if err := m.UseStep("alice", 2); err != nil {
		t.Fatalf("in the backoff: %v, want a local grant", err)
	}
	if err := s.UseStep(t.Context(), "vpn", "alice", 2); err != nil {
		t.Errorf("step 2 reached the store during the backoff (%v): it should not have been asked", err)
	}
	if st := m.Stats(); st.LocalGrants != 2 || st.StoreErrors != 1 {
		t.Errorf("stats %+v, want 2 local grants and 1 store error", st)
	}
	time.Sleep(350 * time.Millisecond)
	if err := m.UseStep("alice", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.UseStep(t.Context(), "vpn", "alice", 3); !errors.Is(err, fleet.ErrUsed) {
		t.Errorf("after the backoff: the store has not recorded step 3 (%v)", err)
	}
}
