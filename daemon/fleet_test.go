package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/fleet/fleettest"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener/listenertest"
)

const poolIdentity = "vpn.example.org"

// poolMember writes the config of member name, in pool vpn.example.org
// of fleet acme, with no local users.
func poolMember(t *testing.T, name string, admin fleet.KeyPair) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if _, err := config.WriteInit(path, config.InitOptions{ServerID: name, Host: poolIdentity, StateFile: filepath.Join(dir, "state", "state.json")}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("fleet:\n  id: acme\n  servers: [nats://198.18.0.100:4222]\n  insecure: true\n  admin_key: " + fleet.PublicString(admin.Public) + "\n")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// poolStep is the step a pool of startPool starts in.
const poolStep = 60000000

// startPool runs members of one pool, named names, on a shared
// in-memory store, their clocks 3 s into poolStep; they stop when the
// test ends.
func startPool(t *testing.T, names ...string) (*fleettest.Memory, fleet.KeyPair, []*running, time.Time) {
	t.Helper()
	store := fleettest.NewMemory()
	admin, err := fleet.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	now := derive.StepStart(poolStep, 30*time.Second).Add(3 * time.Second)
	var pool []*running
	for _, name := range names {
		pool = append(pool, startMember(t, poolMember(t, name, admin), clocktest.NewFake(now), store))
	}
	t.Cleanup(func() {
		for _, r := range pool {
			r.stop(t)
		}
	})
	return store, admin, pool, now
}

// startMember runs a daemon on fakes, in the fleet of store.
func startMember(t *testing.T, cfg *config.Config, c *clocktest.Fake, store fleet.Store) *running {
	t.Helper()
	fw := &firewalltest.Fake{Clock: c}
	r := &running{src: &listenertest.Fake{}, fw: fw, clock: c, log: &netnstest.Buffer{}, done: make(chan error, 1)}
	d, err := New(cfg, Deps{Source: r.src, Firewall: fw, Clock: c, Log: slog.New(slog.NewTextHandler(r.log, nil)), Fleet: store})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	if err := c.WaitTickers(testContext(t), 2); err != nil {
		t.Fatalf("the daemon's tickers: %v", err)
	}
	return r
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("after %v: %s", d, what)
}

func (r *running) hasUser(name string) bool {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	_, ok := r.d.cfg.User(name)
	return ok
}

// TestPool: three members of one pool on a shared store. A user the
// administrator adds reaches every member within 2 s; a knock accepted
// by one member opens on all three; the same knock sent to another
// member opens nothing new and is a replay; a user removed is refused
// by every member 2 s later.
func TestPool(t *testing.T) {
	store, admin, pool, now := startPool(t, "m1", "m2", "m3")
	members, err := store.Members(t.Context())
	if err != nil || len(members) != 3 {
		t.Fatalf("members %v, %v; want 3", members, err)
	}
	enrollment := bytes.Repeat([]byte{0x42}, 32)
	recs, err := fleet.SealUser(admin, "acme", enrollment, members, fleet.UserKey{User: "dave", Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := store.PutRecord(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range pool {
		waitFor(t, 2*time.Second, "dave applied on every member", func() bool { return r.hasUser("dave") })
	}

	key, err := derive.MemberKey(enrollment, "acme", poolIdentity)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := derive.Sequence(key, poolIdentity, pool[0].d.cfg.Params, 60000000, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []string
	if err := store.SubscribeEvents(t.Context(), func(e fleet.Event) {
		mu.Lock()
		events = append(events, e.Member+" "+e.Kind+" "+e.User+" "+e.Source)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	var captured []fleet.Grant // what a NATS user could record and send again
	if err := store.SubscribeGrants(t.Context(), poolIdentity, func(g fleet.Grant) {
		mu.Lock()
		captured = append(captured, g)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("198.18.0.2")
	pool[0].knock(t, client, seq)
	want := "grant 198.18.0.2 tcp/22 30s"
	for i, r := range pool {
		waitFor(t, 2*time.Second, "the grant open on member "+string(rune('1'+i)), func() bool { return strings.Contains(r.fw.String(), want) })
	}
	// The same packets to the other members: no new grant, a replay.
	before := store.Published[poolIdentity]
	for _, r := range pool[1:] {
		r.knock(t, client, seq)
		if !strings.Contains(r.log.String(), "msg=replay src=198.18.0.2 user=dave") {
			t.Errorf("member log lacks the replay:\n%s", r.log.String())
		}
	}
	if got := store.Published[poolIdentity]; got != before {
		t.Errorf("grants published after the re-sends: %d, want %d (none new)", got, before)
	}
	if !regexp.MustCompile(`msg="pool grant" member=m1 user=dave .* fanout=0s transit=0s`).MatchString(pool[1].log.String()) {
		t.Errorf("member m2's log lacks the pool grant:\n%s", pool[1].log.String())
	}
	if m := pool[1].scrape(t, "/metrics"); !strings.Contains(m, "otpknock_fleet_pool_grants_total 1") || !strings.Contains(m, "otpknock_fleet_connected 1") {
		t.Errorf("m2's metrics lack the pool grant or connectivity:\n%s", m)
	}

	waitFor(t, 2*time.Second, "3 audit events on the fleet subject", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 })
	mu.Lock()
	slices.Sort(events)
	if diff := cmp.Diff([]string{"m1 grant dave 198.18.0.2", "m2 replay dave 198.18.0.2", "m3 replay dave 198.18.0.2"}, events); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
	mu.Unlock()

	// With NATS credentials alone: a forged grant (no member key) and the
	// recorded grant sent again open nothing.
	mu.Lock()
	replayed := captured[0]
	mu.Unlock()
	forged := fleet.SignGrant(fleet.Grant{Identity: poolIdentity, Member: "m1", User: "dave", Step: 60000000,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.66")}, Open: []string{"tcp/22"}, Timeout: time.Hour, Sent: now}, make([]byte, 32))
	fwBefore := pool[1].fw.String()
	for _, g := range []fleet.Grant{forged, replayed} {
		if err := store.PublishGrant(t.Context(), g); err != nil {
			t.Fatal(err)
		}
	}
	if got := pool[1].fw.String(); got != fwBefore {
		t.Errorf("m2's firewall changed after a forged and a replayed grant:\n%s\nwas:\n%s", got, fwBefore)
	}
	if m := pool[1].scrape(t, "/metrics"); !strings.Contains(m, "otpknock_fleet_pool_grants_rejected_total 2") {
		t.Errorf("m2 did not count 2 rejected pool grants:\n%s", m)
	}

	if err := store.DeleteUser(t.Context(), "dave"); err != nil {
		t.Fatal(err)
	}
	for _, r := range pool {
		waitFor(t, 2*time.Second, "dave removed on every member", func() bool { return !r.hasUser("dave") })
	}
}
