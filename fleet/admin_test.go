package fleet_test

import (
	"bytes"
	"testing"

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
	alice := fleet.UserKey{User: "alice", Open: []string{"tcp/22"}}
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
	h, err := a.Holders(ctx)
	if diff := cmp.Diff(map[string][]string{"alice": {"m1", "m2", "m3"}}, h); err != nil || diff != "" {
		t.Fatalf("holders (-want +got):\n%s %v", diff, err)
	}
	if err := a.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if h, _ := a.Holders(ctx); len(h) != 0 {
		t.Errorf("holders after removal: %v, want none", h)
	}
}
