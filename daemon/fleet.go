package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/matcher"
)

// fleetLink is a daemon's membership of a fleet (config's fleet
// section): the users the fleet gives it, its share of used steps, and
// grants fanned out to and from the other members of its pool. A nil
// *fleetLink is a lone server; every method allows it.
type fleetLink struct {
	member   *fleet.Member
	identity string
	log      *slog.Logger
	ctx      context.Context // ends when the daemon closes
	cancel   context.CancelFunc
	closer   func()        // closes the store's connection, when the daemon dialled it
	kick     chan struct{} // a change of users to apply (one pending at most)

	mu    sync.Mutex
	users []fleet.UserKey
	base  *config.Config // the config file's, before merge added the fleet's users

	lat        latencies
	peerFailed atomic.Uint64
	applied    atomic.Uint64
	rejected   atomic.Uint64 // pool grants not applied: forged, stale or replayed
}

// fleetKey is a fleet user's member key and the identity it derives for.
type fleetKey struct {
	secret   []byte
	serverID string
}

// joinFleet joins cfg's fleet through store (nil: dial the config's NATS
// servers). The member's key pair is created on first start.
func joinFleet(cfg *config.Config, store fleet.Store, log *slog.Logger) (*fleetLink, error) {
	fc := cfg.Fleet
	if fc == nil {
		return nil, nil
	}
	fl := &fleetLink{identity: fc.Identity, log: log, kick: make(chan struct{}, 1)}
	if store == nil {
		o, err := NATSOptions(cfg, "otpknockd "+fc.Member)
		if err != nil {
			return nil, err
		}
		o.Log = log
		js, err := fleet.Dial(o)
		if err != nil {
			return nil, err
		}
		store, fl.closer = js, js.Close
	}
	key, created, err := fleet.LoadOrCreateKey(fc.KeyFile)
	if err != nil {
		fl.close()
		return nil, err
	}
	if created {
		log.Info("fleet: created this member's key", "key_file", fc.KeyFile, "public", fleet.PublicString(key.Public))
	}
	ctx, cancel := context.WithCancel(context.Background())
	fl.ctx, fl.cancel = ctx, cancel
	mode := fleet.Local
	if fc.Unavailable == "refuse" {
		mode = fleet.Refuse
	}
	fl.member, err = fleet.Join(ctx, store, fleet.MemberConfig{Name: fc.Member, Identity: fc.Identity, Key: key,
		Admin: [32]byte(fc.AdminKey), CacheFile: fc.CacheFile, Unavailable: mode, Log: log,
		OnUsers: fl.setUsers})
	if err != nil {
		fl.close()
		return nil, fmt.Errorf("joining fleet %s: %w", fc.ID, err)
	}
	log.Info("fleet: joined", "fleet", fc.ID, "member", fc.Member, "identity", fc.Identity,
		"users", len(fl.member.Users()), "connected", fl.member.Connected(), "fleet_unavailable", fc.Unavailable)
	return fl, nil
}

// NATSOptions are the connection options of cfg's fleet section, for a
// connection named name (a member's, or the admin commands'); a password
// is read from its file, and an unreadable one is an error naming
// fleet.password_file.
func NATSOptions(cfg *config.Config, name string) (fleet.Options, error) {
	fc := cfg.Fleet
	o := fleet.Options{URLs: fc.Servers, Fleet: fc.ID, Name: name, CredsFile: fc.Credentials,
		User: fc.User, CAFile: fc.TLSCA, CertFile: fc.TLSCert, KeyFile: fc.TLSKey, Insecure: fc.Insecure, Replicas: fc.Replicas}
	if fc.PasswordFile != "" {
		p, err := readPassword(fc.PasswordFile)
		if err != nil {
			return o, err
		}
		o.Password = p
	}
	return o, nil
}

// fleetApplyDelay is how long a change of users waits for the ones
// after it, so that a burst of additions (an administrator enrolling
// many users) rebuilds the matcher and firewall plan once, not once per
// user. Additions and removals still apply well within 2 s.
const fleetApplyDelay = 100 * time.Millisecond

// setUsers takes the fleet's users and has the daemon apply them.
func (fl *fleetLink) setUsers(us []fleet.UserKey) {
	fl.mu.Lock()
	fl.users = us
	fl.mu.Unlock()
	select {
	case fl.kick <- struct{}{}:
	default: // one is pending: it applies these users too
	}
}

// applyUsers applies the fleet's users with changed after each change,
// once per burst (fleetApplyDelay), until the daemon closes.
func (fl *fleetLink) applyUsers(changed func()) {
	for {
		select {
		case <-fl.ctx.Done():
			return
		case <-fl.kick:
		}
		select {
		case <-fl.ctx.Done():
			return
		case <-time.After(fleetApplyDelay):
		}
		select {
		case <-fl.kick: // folded into this rebuild
		default:
		}
		changed()
	}
}

// start hands the link its daemon: peer grants and user changes reach
// it from now on.
func (fl *fleetLink) start(d *Daemon) {
	if fl == nil {
		return
	}
	go fl.applyUsers(d.fleetUsersChanged)
	fl.member.SetOnGrant(d.peerGrant)
}

func (fl *fleetLink) close() {
	if fl == nil {
		return
	}
	if fl.cancel != nil {
		fl.cancel()
	}
	if fl.closer != nil {
		fl.closer()
	}
}

// merge returns cfg with the fleet's users added (a local user of the
// same name wins) and their keys; cfg itself for a lone server.
func (fl *fleetLink) merge(cfg *config.Config) (*config.Config, map[string]fleetKey) {
	if fl == nil {
		return cfg, nil
	}
	fl.mu.Lock()
	users := slices.Clone(fl.users)
	fl.base = cfg
	fl.mu.Unlock()
	out := *cfg
	out.Users = slices.Clone(cfg.Users)
	keys := map[string]fleetKey{}
	for _, k := range users {
		if _, local := cfg.User(k.User); local {
			fl.log.Warn("fleet: a local user of the same name wins over the fleet's", "user", k.User)
			continue
		}
		u, err := configUser(k)
		if err != nil {
			fl.log.Warn("fleet: ignoring a user", "user", k.User, "err", err)
			continue
		}
		out.Users = append(out.Users, u)
		keys[k.User] = fleetKey{secret: k.Key, serverID: fl.identity}
	}
	return &out, keys
}

// configUser is a fleet user as the config would hold it, its
// grant_prefix too: grants to it, the member's own and the pool's it
// applies (peerGrant), open the prefix its record names around each
// address.
func configUser(k fleet.UserKey) (config.User, error) {
	u := config.User{Name: k.User, From: k.From, BindSource: k.Bind}
	var err error
	if u.Knock, err = derive.ParseMode(k.Knock); err != nil {
		return u, fmt.Errorf("knock: %w", err)
	}
	if u.Auth, err = derive.ParseAuth(k.Auth); err != nil {
		return u, fmt.Errorf("auth: %w", err)
	}
	if u.Auth == derive.AuthEd25519 {
		if u.Knock != derive.ModePacket {
			return u, errors.New("auth: ed25519 needs knock: packet")
		}
		if u.PublicKey, _, err = derive.ParseKeyLine(k.PublicKey); err != nil {
			return u, fmt.Errorf("public_key: %w", err)
		}
	}
	for _, s := range k.Open {
		svc, err := derive.ParseService(s)
		if err != nil {
			return u, fmt.Errorf("open: %w", err)
		}
		u.Open = append(u.Open, svc)
	}
	if len(u.Open) == 0 {
		return u, errors.New("open: no services")
	}
	if k.GrantPrefix != "" {
		// The floors of a local user's grant_prefix: a record wider than
		// them gives no user, never a wider grant.
		if u.GrantPrefix, err = config.ParseGrantPrefix(k.GrantPrefix); err != nil {
			return u, fmt.Errorf("grant_prefix: %w", err)
		}
	}
	return u, nil
}

// useStep is the matcher's used-step hook: nil for a lone server.
func (fl *fleetLink) useStep() func(string, uint64) error {
	if fl == nil {
		return nil
	}
	return func(user string, step uint64) error {
		err := fl.member.UseStep(user, step)
		if errors.Is(err, fleet.ErrUsed) {
			return fmt.Errorf("%w", matcher.ErrStepUsed)
		}
		return err
	}
}

// fleetUsersChanged rebuilds the matcher and firewall plan with the
// fleet's users, as a reload does with the config's.
func (d *Daemon) fleetUsersChanged() {
	d.lifecycle.Lock()
	defer d.lifecycle.Unlock()
	if d.closed {
		return
	}
	d.fleet.mu.Lock()
	cfg := d.fleet.base
	d.fleet.mu.Unlock()
	g, err := d.installConfig(cfg)
	if err != nil {
		d.log.Error("fleet: applying the fleet's users failed, keeping the old ones", "err", err)
		return
	}
	d.swap(g)
	d.log.Info("fleet: users applied", "users", len(g.cfg.Users))
}

// keyOf returns the member key of a fleet user (not one a local user
// of the same name shadows).
func (fl *fleetLink) keyOf(user string) ([]byte, bool) {
	if fl == nil {
		return nil, false
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.base != nil {
		if _, local := fl.base.User(user); local {
			return nil, false
		}
	}
	for _, k := range fl.users {
		if k.User == user {
			return k.Key, true
		}
	}
	return nil, false
}

// peerGrant applies a grant another member of the pool made, if it is a
// pool member's (its MAC is right under the user's member key), fresh
// (its step inside the window) and new here (a later step than the
// user's last): the user's services, from its own record, for the
// grant's addresses, and the step used here too. A grant that fails any
// check is counted and logged, and opens nothing. A user with
// grant_prefix has the prefix around each address opened, as wide as
// this member's record of the user says: the grant carries addresses
// only. The line logged says
// how long the grant took to reach this member (transit: the granting
// member's publish, NATS and the scheduling of both processes) and to
// be applied here (fanout: transit, then the checks and the kernel set).
func (d *Daemon) peerGrant(g fleet.Grant) {
	transit := d.clock.Now().Sub(g.Sent)
	key, ok := d.fleet.keyOf(g.User)
	if !ok || !fleet.VerifyGrant(g, key) {
		d.fleet.rejected.Add(1)
		d.log.Warn("fleet: a pool grant that no pool member made, ignored", "member", g.Member, "user", g.User)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if why := d.stalePeerGrant(g); why != "" {
		d.fleet.rejected.Add(1)
		d.log.Warn("fleet: a pool grant refused", "member", g.Member, "user", g.User, "step", g.Step, "reason", why)
		return
	}
	u, _ := d.cfg.User(g.User)
	var errs []error
	var nets []netip.Prefix
	for _, a := range g.Addrs {
		if !a.IsValid() {
			continue
		}
		src := u.GrantPrefix.Around(a) // this member's record of the user says how wide, never the grant
		if src.Bits() != src.Addr().BitLen() {
			nets = append(nets, src)
		}
		for _, svc := range u.Open {
			errs = append(errs, d.fw.Grant(src, svc, d.cfg.OpenTimeout))
		}
	}
	d.m.MarkUsed(map[string]uint64{g.User: g.Step})
	lat := d.clock.Now().Sub(g.Sent)
	if err := errors.Join(errs...); err != nil {
		d.fleet.peerFailed.Add(1)
		d.log.Error("fleet: a pool grant failed", "member", g.Member, "user", g.User, "err", err)
		return
	}
	d.fleet.applied.Add(1)
	d.fleet.lat.add(lat)
	attrs := []any{"member", g.Member, "user", g.User, "step", g.Step, "addrs", addrList(g.Addrs), "ports", derive.Knocks(u.Open).String()}
	if len(nets) > 0 {
		attrs = append(attrs, "prefix", prefixList(nets))
	}
	for _, n := range nets {
		d.metrics.prefixGrant(n)
	}
	d.log.Info("pool grant", append(attrs, "fanout", lat.String(), "transit", transit.String())...)
}

// stalePeerGrant says why a signed pool grant must not open anything: a
// step outside the window (a grant recorded and sent again later), or
// one not after the user's last used step here. d.mu is held.
func (d *Daemon) stalePeerGrant(g fleet.Grant) string {
	now := derive.Step(d.clock.Now(), d.cfg.Params.Period)
	w := uint64(d.cfg.Skew) + 1
	if g.Step+w < now || g.Step > now+w {
		return "step outside the window"
	}
	if last, ok := d.m.Used()[g.User]; ok && g.Step <= last {
		return "step already used here"
	}
	if _, ok := d.cfg.User(g.User); !ok {
		return "no such user here"
	}
	return ""
}
