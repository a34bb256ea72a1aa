package fleet_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
)

// rejoin starts member name again with its key pair and cache file, as
// a restarted server does.
func rejoin(t *testing.T, s fleet.Store, admin fleet.KeyPair, key fleet.KeyPair, name, cache string) *testMember {
	t.Helper()
	tm, err := joinWith(t.Context(), s, admin, key, name, "vpn", cache, fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func (tm *testMember) logged() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.log.String()
}

// recordsOf returns the store's records of user.
func recordsOf(t *testing.T, s fleet.Store, user string) []fleet.Record {
	t.Helper()
	all, err := s.Records(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(r fleet.Record) bool { return r.User != user })
}

// stays checks, for a while, that the member's users stay want: a
// refused record must not be applied late.
func stays(t *testing.T, tm *testMember, what string, want []string) {
	t.Helper()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got := tm.userNames(); !slices.Equal(got, want) {
			t.Fatalf("%s: users %v, want %v", what, got, want)
		}
	}
}

// TestRemovedUserStaysRemoved: with write access to the users bucket,
// putting back the record a member held before the user was removed
// (with or without deleting the tombstone) does not give the user back,
// live or after the member restarts from its local copy; the member logs
// the refusal once. Re-adding the user afterwards works. Over NATS and
// the fake.
func TestRemovedUserStaysRemoved(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			adminStore, attacker := open(t)
			admin := keyPair(t)
			a := fleet.Admin{Store: adminStore, Fleet: "acme", Key: admin}
			cache := filepath.Join(t.TempDir(), "fleet-users.json")
			ctx, stop := context.WithCancel(t.Context())
			m, err := join(t, ctx, attacker, admin, "m1", "vpn", cache, fleet.Local)
			if err != nil {
				t.Fatal(err)
			}
			secret := bytes.Repeat([]byte{7}, 32)
			alice := fleet.UserKey{User: "alice", Open: []string{"tcp/22"}}
			if _, err := a.AddUser(t.Context(), secret, alice); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Second, "alice added", func() bool { return slices.Equal(m.userNames(), []string{"alice"}) })
			old := recordsOf(t, attacker, "alice")
			if _, err := a.RemoveUser(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Second, "alice removed", func() bool { return len(m.userNames()) == 0 })

			put := func(what string) {
				for _, r := range old {
					if err := attacker.PutRecord(t.Context(), r); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				}
			}
			put("the old record over the tombstone")
			stays(t, m, "the old record put back over the tombstone", nil)
			if err := attacker.DeleteUser(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
			put("the old record, tombstone deleted")
			stays(t, m, "the old record put back, tombstone deleted", nil)
			if n := strings.Count(m.logged(), "refused a stale record"); n != 1 {
				t.Errorf("the member logged %d refusals of the same stale record, want 1:\n%s", n, m.logged())
			}

			// Restarted from its local copy, the tombstone gone from the
			// store: the high-water mark still refuses the old record.
			stop()
			again := rejoin(t, attacker, admin, m.key, "m1", cache)
			stays(t, again, "restarted with its local copy", nil)
			if !strings.Contains(again.logged(), "refused a stale record") {
				t.Errorf("the restarted member did not log the refusal:\n%s", again.logged())
			}

			if _, err := a.AddUser(t.Context(), secret, alice); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Second, "alice re-added after removal", func() bool { return slices.Equal(again.userNames(), []string{"alice"}) })
		})
	}
}

// TestStaleRecordWithoutLocalCopy pins the limit spec section 14.4
// states: a member that never saw the removal, its local copy gone,
// takes back the record it held before (nothing it has says otherwise),
// while a member that saw the tombstone does not.
func TestStaleRecordWithoutLocalCopy(t *testing.T) {
	s := fleettest.NewMemory()
	admin := keyPair(t)
	a := fleet.Admin{Store: s, Fleet: "acme", Key: admin}
	dir := t.TempDir()
	ctx, stop := context.WithCancel(t.Context())
	m, err := join(t, ctx, s, admin, "m1", "vpn", filepath.Join(dir, "m1.json"), fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddUser(t.Context(), bytes.Repeat([]byte{7}, 32), fleet.UserKey{User: "alice", Open: []string{"tcp/22"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "alice added", func() bool { return len(m.userNames()) == 1 })
	old := recordsOf(t, s, "alice")
	stop()
	if _, err := a.RemoveUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	for _, r := range old {
		if err := s.PutRecord(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	blank := rejoin(t, s, admin, m.key, "m1", filepath.Join(dir, "new.json"))
	if got := blank.userNames(); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("a member without its local copy that never saw the removal: users %v; the spec says it holds alice again", got)
	}
}

// TestTombstoneForUnknownUser: a tombstone of a user the member never
// held raises its mark: the user's older records stay refused.
func TestTombstoneForUnknownUser(t *testing.T) {
	s := fleettest.NewMemory()
	admin := keyPair(t)
	m, err := join(t, t.Context(), s, admin, "m1", "vpn", filepath.Join(t.TempDir(), "c.json"), fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	k := fleet.UserKey{User: "bob", Member: "m1", Identity: "vpn", Key: bytes.Repeat([]byte{3}, 32), Open: []string{"tcp/22"}, Generation: 100}
	older, err := fleet.Seal(admin, ms[0], k)
	if err != nil {
		t.Fatal(err)
	}
	tomb, err := fleet.SealTombstone(admin, ms[0], "bob", 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []fleet.Record{tomb, older} {
		if err := s.PutRecord(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	stays(t, m, "bob's record older than his tombstone", nil)
	if !strings.Contains(m.logged(), "refused a stale record") {
		t.Errorf("no refusal logged:\n%s", m.logged())
	}
}

// TestDamagedLocalCopy: a local copy that does not read (here, the
// bare list of records of before generations) is reported; the member
// starts from the store when it answers, and cannot start without it.
func TestDamagedLocalCopy(t *testing.T) {
	s := fleettest.NewMemory()
	admin := keyPair(t)
	cache := filepath.Join(t.TempDir(), "fleet-users.json")
	if err := os.WriteFile(cache, []byte(`[{"user":"alice","member":"m1"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := join(t, t.Context(), s, admin, "m1", "vpn", cache, fleet.Local)
	if err != nil {
		t.Fatalf("store up, local copy damaged: %v", err)
	}
	if !strings.Contains(m.logged(), "the last copy of the users is unreadable") {
		t.Errorf("the damaged copy is not reported:\n%s", m.logged())
	}
	s.SetDown(true)
	if _, err := join(t, t.Context(), s, admin, "m2", "vpn", cache, fleet.Local); err == nil {
		t.Error("store down, local copy damaged: the member started")
	}
}

// TestLocalCopyUsers: the users of a member's last copy, without the
// removed ones, for completion.
func TestLocalCopyUsers(t *testing.T) {
	s := fleettest.NewMemory()
	admin := keyPair(t)
	cache := filepath.Join(t.TempDir(), "fleet-users.json")
	m, err := join(t, t.Context(), s, admin, "m1", "vpn", cache, fleet.Local)
	if err != nil {
		t.Fatal(err)
	}
	a := fleet.Admin{Store: s, Fleet: "acme", Key: admin}
	for _, u := range []string{"bob", "alice", "carol"} {
		if _, err := a.AddUser(t.Context(), bytes.Repeat([]byte{7}, 32), fleet.UserKey{User: u, Open: []string{"tcp/22"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.RemoveUser(t.Context(), "carol"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "alice and bob held", func() bool { return slices.Equal(m.userNames(), []string{"alice", "bob"}) })
	got, err := fleet.LocalCopyUsers(cache)
	if err != nil || !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("LocalCopyUsers = %v, %v; want alice bob", got, err)
	}
	if _, err := fleet.LocalCopyUsers(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("LocalCopyUsers of a missing file: no error")
	}
}
