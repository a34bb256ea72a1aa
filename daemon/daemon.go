package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/matcher"
)

// Daemon is a configured server ready to run.
type Daemon struct {
	Source   listener.Source
	Firewall firewall.Backend
	Clock    clock.Clock
	Log      *slog.Logger
	// Reload, when it delivers, makes the daemon read the config at
	// ConfigPath again (SIGHUP).
	Reload     <-chan struct{}
	ConfigPath string
	Metrics    *Metrics // nil: no metrics

	mu      sync.Mutex
	cfg     *config.Config
	plan    firewall.Plan
	m       *matcher.Matcher
	persist chan struct{} // a grant changed the used steps
}

// Build loads the users' secrets and the state file and builds the
// matcher for cfg.
func build(cfg *config.Config, used map[string]uint64) (*matcher.Matcher, error) {
	var users []matcher.User
	for _, u := range cfg.Users {
		secret, err := cfg.ReadSecret(u.Name)
		if err != nil {
			return nil, err
		}
		users = append(users, matcher.User{Name: u.Name, Secret: secret, Open: u.Open, From: u.From, Bind: u.BindSource})
	}
	return matcher.New(matcher.Config{ServerID: cfg.ServerID, Params: cfg.Params, Skew: cfg.Skew,
		SequenceTimeout: cfg.SequenceTimeout, StrayTolerance: matcher.DefaultStrayTolerance}, users, used)
}

// Start loads everything cfg needs and installs the firewall.
func (d *Daemon) Start(cfg *config.Config) error {
	used, err := LoadState(cfg.StateFile)
	if err != nil {
		return err
	}
	m, err := build(cfg, used)
	if err != nil {
		return err
	}
	plan := firewall.PlanFor(cfg)
	if err := d.Firewall.Setup(plan); err != nil {
		return fmt.Errorf("installing the firewall: %w", err)
	}
	d.cfg, d.plan, d.m = cfg, plan, m
	d.persist = make(chan struct{}, 1)
	return nil
}

// Run serves until ctx is done, then closes the firewall (fail closed)
// and saves the state.
func (d *Daemon) Run(ctx context.Context) error {
	d.Log.Info("started", "server_id", d.cfg.ServerID, "users", len(d.cfg.Users), "nflog_group", d.cfg.NFLOGGroup,
		"knock_range", d.cfg.Params.RangeString(), "protocols", d.cfg.Params.Protocols.String(),
		"bits", fmt.Sprintf("%.0f", d.cfg.Params.Bits()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		d.housekeeping(ctx)
	}()
	go func() {
		defer wg.Done()
		d.persister(ctx)
	}()
	err := d.Source.Run(ctx, d.handle)
	cancel()
	wg.Wait()
	return d.stop(err)
}

func (d *Daemon) stop(runErr error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	closeErr := d.Firewall.Close(d.plan)
	if err := SaveState(d.cfg.StateFile, d.m.Used()); err != nil {
		d.Log.Error("saving state", "err", err)
	}
	st, ms := d.Source.Stats(), d.m.Stats()
	d.Log.Info("stopped", "packets", st.Messages, "knocks", ms.Packets, "lost", st.Lost, "malformed", st.Malformed,
		"completed", ms.Completed, "started", ms.Started, "cancelled", ms.Cancelled, "evicted", ms.Evicted)
	if runErr != nil {
		return fmt.Errorf("reading knocks: %w", runErr)
	}
	if closeErr != nil {
		return fmt.Errorf("removing the NFLOG rules: %w", closeErr)
	}
	return nil
}

// housekeeping keeps the window current between packets, reports lost
// packets and serves reloads.
func (d *Daemon) housekeeping(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lost uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.Reload:
			d.reload()
		case <-tick.C:
			d.mu.Lock()
			if err := d.m.Advance(d.Clock.Now()); err != nil {
				d.Log.Error("precomputing sequences", "err", err)
			}
			d.mu.Unlock()
			d.prepareNext()
			if st := d.Source.Stats(); st.Lost > lost {
				d.Log.Warn("nflog messages lost", "lost", st.Lost-lost, "total", st.Lost)
				lost = st.Lost
			}
		}
	}
}

// prepareLead is how long before a step begins its window is built.
const prepareLead = 5 * time.Second

// prepareNext builds the next step's window without holding the lock, so
// packets keep flowing during a build (about 70 ms with 100,000 users),
// and installs it for the rollover.
func (d *Daemon) prepareNext() {
	now := d.Clock.Now()
	d.mu.Lock()
	m := d.m
	need := m.NeedsNext(now, prepareLead)
	d.mu.Unlock()
	if !need {
		return
	}
	w, err := m.PrepareNext(now)
	if err != nil {
		d.Log.Error("precomputing sequences", "err", err)
		return
	}
	d.mu.Lock()
	d.m.Install(w) // a matcher that replaced m in a reload ignores it
	d.mu.Unlock()
}

// handle is the per-packet path.
func (d *Daemon) handle(p listener.Packet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Metrics.packet(p.Knock.Proto)
	ev, done, err := d.m.Handle(d.Clock.Now(), p)
	if err != nil {
		d.Log.Error("matching", "err", err)
		return
	}
	if !done {
		return
	}
	d.Metrics.event(ev.Kind)
	attrs := []any{"src", ev.Src.String(), "user", ev.User, "step", ev.Step, "ports", ports(ev.Open)}
	switch ev.Kind {
	case matcher.Replay:
		d.Log.Warn("replay", attrs...)
	case matcher.Refused:
		d.Log.Warn("refused source", attrs...)
	case matcher.Grant:
		d.grant(ev.Src, ev.Open, p.At, attrs)
	}
}

// grant opens the services; the latency logged runs from the kernel's
// logging of the last knock (at) to the last set entry added.
func (d *Daemon) grant(src netip.Addr, open []derive.Knock, at time.Time, attrs []any) {
	for _, svc := range open {
		if err := d.Firewall.Grant(src, svc, d.cfg.OpenTimeout); err != nil {
			d.Log.Error("grant failed", append(attrs, "err", err)...)
			return
		}
	}
	attrs = append(attrs, "timeout", d.cfg.OpenTimeout.String())
	if !at.IsZero() {
		attrs = append(attrs, "latency", time.Since(at).String())
	}
	select {
	case d.persist <- struct{}{}:
	default: // a save is already due; it will include this step
	}
	d.Log.Info("grant", attrs...)
}

// persister saves the used steps after grants, off the packet path: the
// fsync does not delay the next knock. Bursts of grants coalesce into one
// write; stop saves once more.
func (d *Daemon) persister(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.persist:
			d.mu.Lock()
			used, path := d.m.Used(), d.cfg.StateFile
			d.mu.Unlock()
			if err := SaveState(path, used); err != nil {
				d.Log.Error("saving state", "err", err)
			}
		}
	}
}

func ports(ks []derive.Knock) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.String()
	}
	return strings.Join(s, ",")
}

// reload reads the config and secrets again; on any error the old
// configuration stays and the error is logged.
func (d *Daemon) reload() {
	cfg, err := config.Load(d.ConfigPath)
	if err == nil && (cfg.NFLOGGroup != d.cfg.NFLOGGroup) {
		err = fmt.Errorf("nflog_group changed: restart the server to apply it")
	}
	var m *matcher.Matcher
	if err == nil {
		d.mu.Lock()
		used := d.m.Used()
		d.mu.Unlock()
		m, err = build(cfg, used)
	}
	var plan firewall.Plan
	if err == nil {
		plan = firewall.PlanFor(cfg)
		err = d.Firewall.Setup(plan)
	}
	if err != nil {
		d.Log.Error("config reload failed, keeping the old config", "err", err)
		return
	}
	d.mu.Lock()
	d.cfg, d.plan, d.m = cfg, plan, m
	d.mu.Unlock()
	d.Log.Info("config reloaded", "users", len(cfg.Users))
}
