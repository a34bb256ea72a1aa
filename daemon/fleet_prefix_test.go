package daemon

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
)

// TestPoolGrantPrefix: a fleet user whose record carries grant_prefix
// 24,64 is granted the /24 around the knocking address on the member it
// knocks, and on the other member of the pool through the fan-out; a
// member whose record of the user has no grant_prefix opens the address
// alone (a peer applies what its own record allows, never the granting
// member's); a record wider than the floors (/8) gives no user.
func TestPoolGrantPrefix(t *testing.T) {
	store, admin, pool, _ := startPool(t, "m1", "m2", "m3")
	members, err := store.Members(t.Context())
	if err != nil || len(members) != 3 {
		t.Fatalf("members %v, %v; want 3", members, err)
	}
	enrollment := bytes.Repeat([]byte{0x42}, 32)
	put := func(ms []fleet.MemberInfo, k fleet.UserKey) {
		t.Helper()
		recs, err := fleet.SealUser(admin, "acme", enrollment, ms, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if err := store.PutRecord(t.Context(), rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	byName := map[string]fleet.MemberInfo{}
	for _, m := range members {
		byName[m.Name] = m
	}
	put(members, fleet.UserKey{User: "wide", Open: []string{"tcp/22"}, GrantPrefix: "8,64"})
	put([]fleet.MemberInfo{byName["m1"], byName["m2"]}, fleet.UserKey{User: "carol", Open: []string{"tcp/22"}, GrantPrefix: "24,64"})
	put([]fleet.MemberInfo{byName["m3"]}, fleet.UserKey{User: "carol", Open: []string{"tcp/22"}})
	for _, r := range pool {
		waitFor(t, 2*time.Second, "carol applied on every member", func() bool { return r.hasUser("carol") })
		if r.hasUser("wide") {
			t.Errorf("a member took the user whose record's grant_prefix is /8")
		}
		if !strings.Contains(r.log.String(), `msg="fleet: ignoring a user" user=wide err="grant_prefix: v4: /8`) {
			t.Errorf("member log does not say why it ignores wide:\n%s", r.log.String())
		}
	}
	if !FirewallPlan(pool[0].d.cfg).Prefixes {
		t.Error("the plan of a member with a fleet user's grant_prefix has no prefix sets")
	}

	key, err := derive.MemberKey(enrollment, "acme", poolIdentity)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := derive.Sequence(key, poolIdentity, pool[0].d.cfg.Params, 60000000, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	pool[0].knock(t, netip.MustParseAddr("198.18.0.77"), seq)
	for i, want := range []string{"grant 198.18.0.0/24 tcp/22 30s", "grant 198.18.0.0/24 tcp/22 30s", "grant 198.18.0.77 tcp/22 30s"} {
		r := pool[i]
		waitFor(t, 2*time.Second, "the grant on member m"+string(rune('1'+i)), func() bool { return strings.Contains(r.fw.String(), "grant ") })
		got := r.fw.String()
		if !strings.Contains(got, want) || strings.Count(got, "grant ") != 1 {
			t.Errorf("member m%d's firewall:\n%s\nwant the one grant %q", i+1, got, want)
		}
	}
	if !strings.Contains(pool[0].log.String(), "prefix=198.18.0.0/24") {
		t.Errorf("m1's grant line does not name the prefix:\n%s", pool[0].log.String())
	}
	if !strings.Contains(pool[1].log.String(), `msg="pool grant" member=m1 user=carol step=60000000 addrs=198.18.0.77 ports=tcp/22 prefix=198.18.0.0/24`) {
		t.Errorf("m2's pool grant line does not name the prefix:\n%s", pool[1].log.String())
	}
	if m := pool[1].scrape(t, "/metrics"); !strings.Contains(m, `otpknock_prefix_grants_total{prefix="/24"} 1`) {
		t.Errorf("m2's metrics do not count the pool's prefix grant:\n%s", m)
	}
}
