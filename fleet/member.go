package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnavailable is returned by [Member.UseStep] under [Refuse] while the
// store is unreachable.
var ErrUnavailable = errors.New("fleet store unreachable (fleet_unavailable: refuse)")

// MemberConfig is a member's part in its fleet.
type MemberConfig struct {
	Name     string  // this member's name, unique in the fleet
	Identity string  // the identity it is knocked as: its own, or its pool's
	Key      KeyPair // its box key pair
	Admin    [32]byte
	// CacheFile keeps the last copy of this member's sealed records, for
	// a start while the store is unreachable.
	CacheFile   string
	Unavailable Unavailable
	Log         *slog.Logger
	// OnUsers is called with this member's users after each change
	// (including the first load); OnGrant with each grant another member
	// of the pool made. Neither may block for long.
	OnUsers func([]UserKey)
	OnGrant func(Grant)
	// Timeout bounds each call to the store on the packet path; 0 is
	// 250 ms. Backoff is how long UseStep then leaves the store alone;
	// 0 is 2 s.
	Timeout, Backoff time.Duration
}

// MemberStats counts what a member did with the store.
type MemberStats struct {
	FanoutSent, FanoutFailed, PeerGrants, StoreErrors, LocalGrants uint64
}

// Member is one server's live membership: its users, kept current from
// the store's records, and its share of used steps and grants.
type Member struct {
	store Store
	cfg   MemberConfig
	out   chan Grant

	applyMu sync.Mutex // one refresh at a time: a late read of the store must not follow a newer one
	mu      sync.Mutex
	onGrant func(Grant)
	records []Record // this member's, as last accepted (tombstones too)
	users   []UserKey
	seen    map[string]uint64 // per user, the highest generation accepted
	refused map[string]uint64 // per user, the stale generation last logged
	online  bool              // watching the store

	sent, failed, peer, storeErr, local atomic.Uint64
	backoff                             atomic.Int64 // UseStep skips the store until then (Unix ns)
	noBuckets                           atomic.Bool  // the missing buckets were logged
}

// Join starts a membership: it registers the member, reads its records
// (or, when the store is unreachable, its cache file, and says so), and
// keeps them current, watching the store and retrying it every second
// until ctx ends. While the fleet's buckets do not exist yet
// ([ErrNoBuckets]) it starts with its cache file's users, or none, and
// says so once.
func Join(ctx context.Context, store Store, cfg MemberConfig) (*Member, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 2 * time.Second
	}
	m := &Member{store: store, cfg: cfg, out: make(chan Grant, 1024), onGrant: cfg.OnGrant,
		seen: map[string]uint64{}, refused: map[string]uint64{}}
	last, at, cerr := m.readCache()
	if cerr == nil {
		m.seen = last.Seen // the high-water marks hold even when the store answers
	} else if !errors.Is(cerr, os.ErrNotExist) && cfg.CacheFile != "" {
		cfg.Log.Warn("fleet: the last copy of the users is unreadable: starting without its generations", "err", cerr)
	}
	if err := m.connect(ctx); err != nil {
		missing := errors.Is(err, ErrNoBuckets)
		if cerr != nil && !missing {
			return nil, fmt.Errorf("fleet unreachable (%v) and no last copy of its users: %w", err, cerr)
		}
		m.applyMu.Lock()
		n := m.apply(last.Records, false)
		m.applyMu.Unlock()
		if missing {
			m.waitBuckets(err, n)
		} else {
			cfg.Log.Warn("fleet unreachable at start: using the last copy of the fleet's users; pool fan-out and pool-wide replay refusal are down until it is back",
				"err", err, "users", n, "copy_from", at.Format(time.RFC3339), "fleet_unavailable", cfg.Unavailable.String())
		}
	}
	go m.retry(ctx)
	go m.sender(ctx)
	return m, nil
}

// connect registers, reads the records and subscribes.
func (m *Member) connect(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := m.store.PutMember(c, MemberInfo{Name: m.cfg.Name, Identity: m.cfg.Identity, Public: m.cfg.Key.Public[:]}); err != nil {
		return err
	}
	if err := m.refresh(c); err != nil {
		return err
	}
	// The watch and the subscription last as long as ctx, unless this
	// attempt fails: then a later one makes its own.
	live, stop := context.WithCancel(ctx)
	if err := m.store.WatchRecords(live, func() { m.refreshLogged(ctx) }); err != nil {
		stop()
		return err
	}
	if err := m.store.SubscribeGrants(live, m.cfg.Identity, m.peerGrant); err != nil {
		stop()
		return err
	}
	context.AfterFunc(ctx, stop)
	m.mu.Lock()
	m.online = true
	m.mu.Unlock()
	return nil
}

// retry connects again every second while the member is not watching.
func (m *Member) retry(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lost := false // the connection was down at the last tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		online := m.online
		m.mu.Unlock()
		if online {
			up := m.store.Connected()
			if up && lost {
				m.refreshLogged(ctx) // catch up on what changed while it was down
				m.cfg.Log.Info("fleet reachable again: users caught up")
			} else if !up && !lost {
				m.cfg.Log.Warn("fleet unreachable: pool fan-out and pool-wide replay refusal are down", "fleet_unavailable", m.cfg.Unavailable.String())
			}
			lost = !up // the connection reconnects by itself; the watch survives it
			continue
		}
		err := m.connect(ctx)
		if err == nil {
			m.cfg.Log.Info("fleet reachable: users, pool fan-out and pool-wide replay refusal are back")
		} else if errors.Is(err, ErrNoBuckets) {
			m.waitBuckets(err, len(m.Users()))
		}
	}
}

// waitBuckets logs, once, that the fleet's buckets do not exist yet: a
// member only binds them (its NATS user need not create streams), and
// the admin host's otpknockd fleet init creates them.
func (m *Member) waitBuckets(err error, users int) {
	if m.noBuckets.Swap(true) {
		return
	}
	m.cfg.Log.Warn("fleet: the fleet's buckets do not exist yet in NATS: waiting for the admin host to create them (otpknockd fleet init)",
		"err", err, "users", users, "fleet_unavailable", m.cfg.Unavailable.String())
}

func (m *Member) refreshLogged(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := m.refresh(c); err != nil {
		m.storeErr.Add(1)
		m.cfg.Log.Warn("fleet: reading users", "err", err)
	}
}

// refresh reads this member's records and applies them when they changed.
func (m *Member) refresh(ctx context.Context) error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	all, err := m.store.Records(ctx)
	if err != nil {
		return err
	}
	var mine []Record
	for _, r := range all {
		if r.Member == m.cfg.Name {
			mine = append(mine, r)
		}
	}
	slices.SortFunc(mine, func(a, b Record) int { return cmpString(a.User, b.User) })
	m.apply(mine, true)
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// apply opens records, refuses the stale ones, and hands the users over
// when they changed; save writes them to the cache file. m.applyMu is
// held.
//
// A record is accepted when it opens for this member from the
// administrator and its generation is not below the highest this member
// has accepted for its user (equal is the record it holds); a tombstone
// accepted drops the user, and so does a user with no record.
func (m *Member) apply(records []Record, save bool) int {
	m.mu.Lock()
	seen := maps.Clone(m.seen)
	m.mu.Unlock()
	var kept []Record
	var users []UserKey
	for _, r := range records {
		k, err := Open(r, m.cfg.Key, m.cfg.Name, m.cfg.Identity, m.cfg.Admin)
		if err != nil {
			m.cfg.Log.Warn("fleet: ignoring a user record that is not the administrator's for this member", "user", r.User, "err", err)
			continue
		}
		if k.Generation < seen[k.User] {
			m.refuseStale(k, seen[k.User])
			continue
		}
		seen[k.User] = k.Generation
		kept = append(kept, r)
		if !k.Removed {
			users = append(users, k)
		}
	}
	m.mu.Lock()
	same := slices.EqualFunc(m.records, kept, sameRecord) && maps.Equal(m.seen, seen)
	m.records, m.users, m.seen = kept, users, seen
	m.mu.Unlock()
	if same {
		return len(users)
	}
	if save && m.cfg.CacheFile != "" {
		if err := m.saveCache(localCopy{Records: kept, Seen: seen}); err != nil {
			m.cfg.Log.Warn("fleet: saving the last copy of the users", "err", err)
		}
	}
	if m.cfg.OnUsers != nil {
		m.cfg.OnUsers(users)
	}
	return len(users)
}

// refuseStale logs, once per record, a record older than the user's
// last accepted generation: one the store held before, put back.
func (m *Member) refuseStale(k UserKey, seen uint64) {
	m.mu.Lock()
	logged := m.refused[k.User] == k.Generation
	m.refused[k.User] = k.Generation
	m.mu.Unlock()
	if !logged {
		m.cfg.Log.Warn("fleet: refused a stale record: its generation is below the one this member holds for the user (a record the store held before, put back)",
			"user", k.User, "generation", k.Generation, "seen", seen, "removed", k.Removed)
	}
}

func sameRecord(a, b Record) bool {
	return a.User == b.User && a.Member == b.Member && string(a.Nonce) == string(b.Nonce) && string(a.Box) == string(b.Box)
}

// Users returns this member's users as last applied.
func (m *Member) Users() []UserKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.users)
}

// Identity is the identity the member is knocked as.
func (m *Member) Identity() string { return m.cfg.Identity }

// Connected reports whether the store is reachable and watched.
func (m *Member) Connected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.online && m.store.Connected()
}

// UseStep uses (user, step) pool-wide: nil when this member is the
// first, ErrUsed when another member (or this one) was. When the store
// does not answer, Local grants (nil, counted) and Refuse returns
// ErrUnavailable.
//
// UseStep runs on the packet path: after a failure it does not ask the
// store again for Backoff (a JetStream leader election takes seconds),
// so a failing store costs one Timeout, not one per knock.
func (m *Member) UseStep(user string, step uint64) error {
	if until := m.backoff.Load(); until != 0 && time.Now().UnixNano() < until {
		return m.unavailable(errors.New("the store failed less than a backoff ago"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Timeout)
	defer cancel()
	err := m.store.UseStep(ctx, m.cfg.Identity, user, step)
	if err == nil || errors.Is(err, ErrUsed) {
		return err
	}
	m.storeErr.Add(1)
	m.backoff.Store(time.Now().Add(m.cfg.Backoff).UnixNano())
	return m.unavailable(err)
}

// unavailable is what a knock meets without the store: nil (a local
// grant, counted) or ErrUnavailable.
func (m *Member) unavailable(err error) error {
	if m.cfg.Unavailable == Refuse {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	m.local.Add(1)
	return nil
}

// Audit publishes e on the fleet's audit subject, off the caller's path.
func (m *Member) Audit(e Event) {
	e.Member = m.cfg.Name
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Timeout)
		defer cancel()
		if m.store.PublishEvent(ctx, e) != nil {
			m.storeErr.Add(1)
		}
	}()
}

// peerGrant hands another member's grant to OnGrant.
func (m *Member) peerGrant(g Grant) {
	if g.Member == m.cfg.Name || g.Identity != m.cfg.Identity {
		return
	}
	m.peer.Add(1)
	m.mu.Lock()
	fn := m.onGrant
	m.mu.Unlock()
	if fn != nil {
		fn(g)
	}
}

// SetOnGrant replaces MemberConfig.OnGrant: a daemon that joined before
// it could apply grants hands its own once it can.
func (m *Member) SetOnGrant(fn func(Grant)) {
	m.mu.Lock()
	m.onGrant = fn
	m.mu.Unlock()
}

// Stats returns the member's counters.
func (m *Member) Stats() MemberStats {
	return MemberStats{FanoutSent: m.sent.Load(), FanoutFailed: m.failed.Load(), PeerGrants: m.peer.Load(),
		StoreErrors: m.storeErr.Load(), LocalGrants: m.local.Load()}
}
