package fleet_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
)

// TestAdmin: a user added is sealed for every registered member; a
// member registered later lacks it until Sync; removal drops it from
// every member's holdings.
func TestAdmin(t *testing.T) {
	s := fleettest.NewMemory()
	ctx := t.Context()
	a := fleet.Admin{Store: s, Fleet: "acme", Key: keyPair(t)}
	if _, err := a.AddUser(ctx, bytes.Repeat([]byte{1}, 32), fleet.UserKey{User: "alice", Open: []string{"tcp/22"}}); err == nil {
		t.Fatal("AddUser with no members: no error")
	}
	for _, m := range []fleet.MemberInfo{{Name: "m1", Identity: "a"}, {Name: "m2", Identity: "b"}} {
		kp := keyPair(t)
		m.Public = kp.Public[:]
		if err := s.PutMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	secret := bytes.Repeat([]byte{1}, 32)
	alice := fleet.UserKey{User: "alice", Open: []string{"tcp/22"}, GrantPrefix: "24,128"}
	if got, err := a.AddUser(ctx, secret, alice); err != nil || !cmp.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("AddUser = %v, %v; want m1 m2", got, err)
	}
	kp := keyPair(t)
	if err := s.PutMember(ctx, fleet.MemberInfo{Name: "m3", Identity: "c", Public: kp.Public[:]}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Sync(ctx, secret, alice); err != nil || !cmp.Equal(got, []string{"m3"}) {
		t.Fatalf("Sync = %v, %v; want m3 only", got, err)
	}
	recs, _ := s.Records(ctx)
	for _, r := range recs {
		if r.Member != "m3" {
			continue
		}
		if k, err := fleet.Open(r, kp, "m3", "c", a.Key.Public); err != nil || k.GrantPrefix != "24,128" {
			t.Errorf("m3's record after Sync: grant_prefix %q, %v; want alice's 24,128", k.GrantPrefix, err)
		}
	}
	h, err := a.Holders(ctx)
	if diff := cmp.Diff(map[string][]string{"alice": {"m1", "m2", "m3"}}, h); err != nil || diff != "" {
		t.Fatalf("holders (-want +got):\n%s %v", diff, err)
	}
	if got, err := a.RemoveUser(ctx, "alice"); err != nil || !cmp.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Fatalf("RemoveUser = %v, %v; want tombstones for m1 m2 m3", got, err)
	}
	if h, _ := a.Holders(ctx); len(h) != 0 {
		t.Errorf("holders after removal: %v, want none", h)
	}
	want := "member m1 identity a\nmember m2 identity b\nmember m3 identity c\n" +
		"record alice for m1 (removed)\nrecord alice for m2 (removed)\nrecord alice for m3 (removed)"
	if diff := cmp.Diff(want, s.String()); diff != "" {
		t.Errorf("store after removal (-want +got):\n%s", diff)
	}
}

// TestAdminGenerations: each write of a user's records has a generation
// above every earlier one the administrator sealed, even when the
// administrator's clock is behind them; tombstones carry no key.
func TestAdminGenerations(t *testing.T) {
	s := fleettest.NewMemory()
	ctx := t.Context()
	admin, mk := keyPair(t), keyPair(t)
	m := fleet.MemberInfo{Name: "m1", Identity: "a", Public: mk.Public[:]}
	if err := s.PutMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	a := fleet.Admin{Store: s, Fleet: "acme", Key: admin}
	secret := bytes.Repeat([]byte{1}, 32)
	// A record from a clock an hour ahead: the next write must be above it.
	ahead := uint64(time.Now().Add(time.Hour).UnixNano())
	r, err := fleet.Seal(admin, m, fleet.UserKey{User: "alice", Member: "m1", Identity: "a", Key: secret, Generation: ahead})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecord(ctx, r); err != nil {
		t.Fatal(err)
	}
	gen := func() fleet.UserKey {
		t.Helper()
		recs, err := s.Records(ctx)
		if err != nil || len(recs) != 1 {
			t.Fatalf("records %v, %v; want one", recs, err)
		}
		k, err := fleet.Open(recs[0], mk, "m1", "a", admin.Public)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if _, err := a.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	tomb := gen()
	if !tomb.Removed || tomb.Generation != ahead+1 || tomb.Key != nil {
		t.Fatalf("tombstone %+v, want removed, generation %d, no key", tomb, ahead+1)
	}
	if _, err := a.AddUser(ctx, secret, fleet.UserKey{User: "alice", Open: []string{"tcp/22"}}); err != nil {
		t.Fatal(err)
	}
	if again := gen(); again.Removed || again.Generation != ahead+2 {
		t.Fatalf("re-added %+v, want a record of generation %d", again, ahead+2)
	}
}
