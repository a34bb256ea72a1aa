package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/matcher"
)

// Deps are the daemon's surroundings: its two kernel boundaries, its
// clock and its log.
type Deps struct {
	Source   listener.Source  // the knock packets
	Firewall firewall.Backend // the grants
	Clock    clock.Clock
	Log      *slog.Logger
	// HealEvery is how often Run checks the firewall and reinstalls what
	// is missing; 0 means DefaultHealEvery.
	HealEvery time.Duration
	// Fleet is the store of the config's fleet; nil dials the config's
	// NATS servers (a config without a fleet section ignores it).
	Fleet fleet.Store
}

// Daemon is an installed otpknock server.
//
// Its life: New loads the state file and the secrets, builds the matcher
// and the metrics, and installs the firewall. Run, called once, serves
// the packets until its context ends or the source fails, then calls
// Close; meanwhile it checks the firewall every Deps.HealEvery and
// reinstalls what a reload or an administrator removed. Reload may be called from any goroutine at any time (SIGHUP);
// after Close it does nothing. Close stops logging knocks, leaving the
// protected ports closed (fail closed), and saves the used steps; it is
// idempotent, and a caller that never runs the daemon calls it itself.
type Daemon struct {
	src      listener.Source
	fw       firewall.Backend
	clock    clock.Clock
	log      *slog.Logger
	metrics  *Metrics
	events   *eventLog     // replays and refused sources; guarded by mu
	persist  chan struct{} // a grant changed the used steps
	healIn   time.Duration // Deps.HealEvery
	filter   *filter       // the kernel's pre-filter; nil when the backend has none
	fleet    *fleetLink    // nil: a lone server (fleet.go)
	auditLog *auditLog     // nil: no audit_log (audit.go)

	lifecycle sync.Mutex // held by Reload and Close, so no reload outlives Close
	closed    bool       // guarded by lifecycle

	mu       sync.Mutex // guards what follows, swapped together by Reload
	cfg      *config.Config
	plan     firewall.Plan
	m        *matcher.Matcher
	replaced matcher.Stats // the counters of the matchers reloads replaced
	used     Used          // the used steps of the state file and of every matcher so far
}

// ErrInstall marks New's failure to install the firewall: a failure of
// the kernel, where New's other errors are the config's, its secrets' or
// its state file's.
var ErrInstall = errors.New("installing the firewall")

// New returns a daemon ready to Run: state and secrets loaded, matcher
// and metrics built, firewall installed.
func New(cfg *config.Config, deps Deps) (*Daemon, error) {
	if err := CheckStrength(cfg); err != nil {
		return nil, err
	}
	used, legacy, err := LoadState(cfg.StateFile, cfg.Params.Period)
	if err != nil {
		return nil, err
	}
	if legacy {
		deps.Log.Info("state_file holds bare step numbers (version 1): read as steps of the configured step; the next save writes version 2",
			"state_file", cfg.StateFile, "step", cfg.Params.Period.String())
	}
	audit, err := openAudit(cfg)
	if err != nil {
		return nil, err
	}
	fl, err := joinFleet(cfg, deps.Fleet, deps.Log)
	if err != nil {
		_ = audit.close()
		return nil, err
	}
	ok := false
	defer func() {
		if !ok { // a daemon that never runs leaves no fleet link or file open
			fl.close()
			_ = audit.close()
		}
	}()
	cfg, keys := fl.merge(cfg)
	flt := newFilter(deps.Firewall, deps.Clock, deps.Log)
	m, err := build(cfg, keys, fl.useStep(), used.Steps(cfg.Params.Period), flt.hook())
	if err != nil {
		return nil, err
	}
	plan := PlanFor(cfg, deps.Firewall)
	if err := deps.Firewall.Setup(plan); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInstall, err)
	}
	if err := flt.armNow(m); err != nil {
		return nil, err
	}
	ok = true
	d := &Daemon{src: deps.Source, fw: deps.Firewall, clock: deps.Clock, log: deps.Log,
		persist: make(chan struct{}, 1), healIn: deps.HealEvery, filter: flt, fleet: fl, auditLog: audit, cfg: cfg, plan: plan, m: m, used: used}
	if d.healIn <= 0 {
		d.healIn = DefaultHealEvery
	}
	d.metrics = newMetrics(d)
	d.events = newEventLog(d.log, d.metrics.logSuppressed.Inc)
	d.metrics.fleet(d)
	fl.start(d)
	return d, nil
}

// CheckStrength refuses a config whose users, skew and parameters leave
// a blind sweep less than derive.MinBits of work (see
// derive.Params.EffectiveBits), in one line naming the config and the
// fields. Only sequence users count: a packet knock carries a 128-bit
// tag, and its element never starts a sequence.
func CheckStrength(cfg *config.Config) error {
	n := cfg.SequenceUsers()
	if n == 0 {
		return nil
	}
	if err := cfg.Params.ValidateServer(n, 2*cfg.Skew+1, matcher.DefaultStrayTolerance); err != nil {
		return fmt.Errorf("%s: %w; sequence users and skew count too (packet users do not)", cfg.Path, err)
	}
	return nil
}

// EffectiveBits is cfg's work of a blind sweep in bits, with its
// sequence users.
func EffectiveBits(cfg *config.Config) float64 {
	return cfg.Params.EffectiveBits(cfg.SequenceUsers(), 2*cfg.Skew+1, matcher.DefaultStrayTolerance)
}

// MaxUsers is the most users cfg's parameters and skew keep at
// derive.MinBits effective bits.
func MaxUsers(cfg *config.Config) float64 {
	return cfg.Params.MaxUsers(2*cfg.Skew+1, matcher.DefaultStrayTolerance)
}

// build loads the users' secrets (a fleet user's key from keys) and
// builds the matcher for cfg, with the used steps of the state file, the
// fleet's used-step hook and the filter's hook (nil: none).
func build(cfg *config.Config, keys map[string]fleetKey, useStep func(string, uint64) error, used map[string]uint64, track func(netip.Addr, time.Time)) (*matcher.Matcher, error) {
	var users []matcher.User
	for _, u := range cfg.Users {
		fk, ok := keys[u.Name]
		if !ok {
			secret, err := cfg.ReadSecret(u.Name)
			if err != nil {
				return nil, err
			}
			fk.secret = secret
		}
		users = append(users, matcher.User{Name: u.Name, Secret: fk.secret, Open: u.Open, From: u.From, Bind: u.BindSource, Mode: u.Knock,
			Auth: u.Auth, PublicKey: u.PublicKey, ServerID: fk.serverID})
	}
	return matcher.New(matcher.Config{ServerID: cfg.ServerID, Params: cfg.Params, Skew: cfg.Skew,
		SequenceTimeout: cfg.SequenceTimeout, StrayTolerance: matcher.DefaultStrayTolerance, Track: track, UseStep: useStep}, users, used)
}

// Metrics returns the daemon's metrics.
func (d *Daemon) Metrics() *Metrics { return d.metrics }

// metricsAt says where the metrics listen, for the started line.
func metricsAt(addr string) string {
	if addr == "" {
		return "off"
	}
	return "http://" + addr + "/metrics"
}

// housekeepingEvery is how often the window is checked between packets.
const housekeepingEvery = time.Second

// Run serves until ctx is done or the source fails, then closes the
// daemon (see Close). It returns the source's failure, else Close's.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	d.log.Info("started", "server_id", cfg.ServerID, "users", len(cfg.Users), "nflog_group", cfg.NFLOGGroup,
		"metrics", metricsAt(cfg.MetricsListen), "knock_range", cfg.Params.RangeString(), "protocols", cfg.Params.Protocols.String(),
		"bits", fmt.Sprintf("%.0f", cfg.Params.Bits()), "effective_bits", fmt.Sprintf("%.1f", EffectiveBits(cfg)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tick := d.clock.NewTicker(housekeepingEvery)
	defer tick.Stop()
	heal := d.clock.NewTicker(d.healIn)
	defer heal.Stop()
	var wg sync.WaitGroup
	wg.Go(func() { d.housekeeping(ctx, tick.C()) })
	wg.Go(func() { d.healer(ctx, heal.C()) })
	wg.Go(func() { d.persister(ctx) })
	wg.Go(func() { d.filter.run(ctx) })
	runErr := d.src.Run(ctx, d.handle)
	cancel()
	wg.Wait()
	closeErr := d.Close()
	if runErr != nil {
		return fmt.Errorf("reading knocks: %w", runErr)
	}
	return closeErr
}

// Close stops logging knocks (the protected ports stay closed, grants
// expire on their own) and saves the used steps. Later calls do nothing.
func (d *Daemon) Close() error {
	d.lifecycle.Lock()
	defer d.lifecycle.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.mu.Lock()
	closeErr := d.fw.Close(d.plan)
	ms := addCounters(d.replaced, d.m.Stats())
	d.events.flush(time.Time{}, 0, 0) // the summaries of steps still in the window
	d.mu.Unlock()
	saveErr := d.save()
	d.fleet.close()
	_ = d.auditLog.close()
	st := d.src.Stats()
	d.log.Info("stopped", "packets", st.Messages, "knocks", ms.Packets, "lost", st.Lost, "malformed", st.Malformed,
		"completed", ms.Completed, "started", ms.Started, "cancelled", ms.Cancelled, "evicted", ms.Evicted,
		"packet_grants", ms.PacketGrants, "bad_payloads", ms.BadSize+ms.BadTag+ms.BadClaim, "truncated", st.Truncated)
	if closeErr != nil {
		closeErr = fmt.Errorf("removing the NFLOG rules: %w", closeErr)
	}
	return errors.Join(closeErr, saveErr)
}

// ErrClosed is returned by Reload after Close.
var ErrClosed = errors.New("the daemon is closed")

// Reload reads the config file and the secrets again and applies them.
// On any error the old configuration stays; the outcome is logged and
// returned.
func (d *Daemon) Reload() error {
	d.lifecycle.Lock()
	defer d.lifecycle.Unlock()
	if d.closed {
		return ErrClosed
	}
	if err := d.reload(); err != nil {
		d.log.Error("config reload failed, keeping the old config", "err", err)
		return err
	}
	d.mu.Lock()
	n := len(d.cfg.Users)
	d.mu.Unlock()
	d.log.Info("config reloaded", "users", n)
	return nil
}

// reload applies the config file: install, then swap. d.lifecycle is
// held.
func (d *Daemon) reload() error {
	g, err := d.install()
	if err != nil {
		return err
	}
	d.swap(g)
	return nil
}

// generation is what a reload replaces.
type generation struct {
	cfg  *config.Config
	plan firewall.Plan
	m    *matcher.Matcher
}

// install loads the config file and the secrets again, builds their
// matcher with the used steps so far (as steps of the new config's
// period) and installs their firewall. The packet path keeps running on
// the old matcher meanwhile.
func (d *Daemon) install() (generation, error) {
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	cfg, err := config.Load(old.Path)
	if err != nil {
		return generation{}, err
	}
	if pending := keepStartValues(cfg, old); len(pending) > 0 {
		d.log.Warn("restart the server to apply these keys; they keep their running values, the rest of the reload applies", "restart_to_apply", strings.Join(pending, ","))
	}
	return d.installConfig(cfg)
}

// installConfig builds cfg's matcher (with the fleet's users) and
// installs its firewall.
func (d *Daemon) installConfig(cfg *config.Config) (generation, error) {
	d.mu.Lock()
	used := d.usedLocked()
	d.mu.Unlock()
	cfg, keys := d.fleet.merge(cfg)
	if err := CheckStrength(cfg); err != nil {
		return generation{}, err
	}
	m, err := build(cfg, keys, d.fleet.useStep(), used.Steps(cfg.Params.Period), d.filter.hook())
	if err != nil {
		return generation{}, err
	}
	plan := PlanFor(cfg, d.fw)
	if err := d.fw.Setup(plan); err != nil {
		return generation{}, err
	}
	if err := d.filter.armNow(m); err != nil {
		return generation{}, err
	}
	return generation{cfg, plan, m}, nil
}

// keepStartValues keeps in cfg old's values of the keys only a restart
// applies (the NFLOG group the source reads, the metrics address, the
// state file, the firewall backend), and names each that changed.
func keepStartValues(cfg, old *config.Config) []string {
	var pending []string
	keep := func(key string, changed bool, restore func()) {
		if changed {
			pending = append(pending, key)
			restore()
		}
	}
	keep("nflog_group", cfg.NFLOGGroup != old.NFLOGGroup, func() { cfg.NFLOGGroup = old.NFLOGGroup })
	keep("metrics_listen", cfg.MetricsListen != old.MetricsListen, func() { cfg.MetricsListen = old.MetricsListen })
	keep("state_file", cfg.StateFile != old.StateFile, func() { cfg.StateFile = old.StateFile })
	keep("firewall", cfg.Firewall != old.Firewall, func() { cfg.Firewall = old.Firewall })
	return pending
}

// swap puts g in place, carrying over the steps used since install read
// them, converted to g's period.
func (d *Daemon) swap(g generation) {
	d.mu.Lock()
	defer d.mu.Unlock()
	g.m.MarkUsed(d.usedLocked().Steps(g.cfg.Params.Period))
	g.m.KeepGrants(d.m) // a late copy of a grant stays a duplicate
	d.replaced = addCounters(d.replaced, d.m.Stats())
	d.cfg, d.plan, d.m = g.cfg, g.plan, g.m
}

// addCounters adds the counters of b to a (the gauges stay a's).
func addCounters(a, b matcher.Stats) matcher.Stats {
	a.Packets += b.Packets
	a.Started += b.Started
	a.Completed += b.Completed
	a.Cancelled += b.Cancelled
	a.Expired += b.Expired
	a.Evicted += b.Evicted
	a.BadSize += b.BadSize
	a.BadTag += b.BadTag
	a.BadClaim += b.BadClaim
	a.BadSignature += b.BadSignature
	a.SigOverBudget += b.SigOverBudget
	a.PacketGrants += b.PacketGrants
	a.Derived += b.Derived
	return a
}
