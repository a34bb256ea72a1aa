package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/matcher"
)

// handle is the per-packet path: the listener's packet becomes the
// matcher's (time, source, knock, payload). A packet knock's payload is
// the listener's buffer: the matcher reads it here and keeps nothing of
// it. A refused payload (bad size, tag or claim) is counted by the
// matcher and logged by nobody: anyone can send those.
func (d *Daemon) handle(p listener.Packet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metrics.packet(p.Knock.Proto)
	ev, done, err := d.m.Handle(d.clock.Now(), p.Src, p.Knock, p.Payload)
	if err != nil {
		d.log.Error("matching", "err", err)
		return
	}
	if !done {
		return
	}
	d.metrics.event(ev.Mode, ev.Kind)
	d.audit(ev)
	attrs := []any{"src", ev.Src.String(), "user", ev.User, "step", ev.Step, "ports", derive.Knocks(ev.Open).String()}
	if ev.Mode == derive.ModePacket {
		attrs = append(attrs, "knock", ev.Mode.String(), "addrs", addrList(ev.Addrs))
	}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	switch ev.Kind {
	case matcher.Replay, matcher.Refused:
		d.events.record(ev, attrs) // the first of its (user, step, reason) logged, the rest counted
	case matcher.Duplicate:
		// A late copy of the grant (a client's retry): no attack. One
		// line a grant at info, the rest at debug.
		level := slog.LevelDebug
		if ev.Copy == 1 {
			level = slog.LevelInfo
		}
		d.log.Log(context.Background(), level, "duplicate", append(attrs, "copy", ev.Copy)...)
	case matcher.Grant:
		u, _ := d.cfg.User(ev.User)
		d.grant(ev.Addrs, u.GrantPrefix, ev.Open, p.At, attrs)
	}
}

// prefixList joins prefixes with commas.
func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// addrList joins addresses with commas; "-" for none.
func addrList(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "-"
	}
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// grant opens the services for each address (one for a sequence, the
// claim's for a packet knock; the firewall puts each in its family's
// set), or for the prefix around it that the user's grant_prefix names,
// and logs one line; the latency logged runs from the kernel's logging
// of the last knock (at) to the last set entry added. d.mu is held.
func (d *Daemon) grant(addrs []netip.Addr, gp config.GrantPrefix, open []derive.Knock, at time.Time, attrs []any) {
	var errs []error
	var nets []netip.Prefix
	for _, addr := range addrs {
		src := gp.Around(addr)
		if src.Bits() != src.Addr().BitLen() {
			nets = append(nets, src)
		}
		for _, svc := range open {
			if err := d.fw.Grant(src, svc, d.cfg.OpenTimeout); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(nets) > 0 {
		attrs = append(attrs, "prefix", prefixList(nets))
	}
	if err := errors.Join(errs...); err != nil {
		d.log.Error("grant failed", append(attrs, "err", err)...)
		return
	}
	for _, n := range nets {
		d.metrics.prefixGrant(n)
	}
	attrs = append(attrs, "timeout", d.cfg.OpenTimeout.String())
	if !at.IsZero() {
		attrs = append(attrs, "latency", d.clock.Now().Sub(at).String())
	}
	select {
	case d.persist <- struct{}{}:
	default: // a save is already due; it will include this step
	}
	d.log.Info("grant", attrs...)
}

// persister saves the used steps after grants, off the packet path: the
// fsync does not delay the next knock. Bursts of grants coalesce into one
// write; Close saves once more.
func (d *Daemon) persister(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.persist:
			_ = d.save() // logged, counted and shown by /healthz
		}
	}
}

// housekeeping keeps the window current between packets and reports
// lost packets and refused forged datagrams, at most one line each per
// tick.
func (d *Daemon) housekeeping(ctx context.Context, tick <-chan time.Time) {
	var lost, forged uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			d.mu.Lock()
			if err := d.m.Advance(d.clock.Now()); err != nil {
				d.log.Error("precomputing sequences", "err", err)
			}
			d.events.flush(d.clock.Now(), d.cfg.Params.Period, d.cfg.Skew)
			m := d.m
			d.mu.Unlock()
			d.filter.arm(m, m.Window()) // when the packet path built it
			d.prepareNext()
			st := d.src.Stats()
			if st.Lost > lost {
				d.log.Warn("nflog messages lost", "lost", st.Lost-lost, "total", st.Lost)
				lost = st.Lost
			}
			if st.Forged > forged {
				d.log.Warn("nflog datagrams refused: not sent by the kernel", "refused", st.Forged-forged, "total", st.Forged)
				forged = st.Forged
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
	now := d.clock.Now()
	d.mu.Lock()
	m := d.m
	need := m.NeedsNext(now, prepareLead)
	d.mu.Unlock()
	if !need {
		return
	}
	w, err := m.PrepareNext(now)
	if err != nil {
		d.log.Error("precomputing sequences", "err", err)
		return
	}
	d.filter.arm(m, w) // its first knocks pass the kernel before its step begins
	d.mu.Lock()
	d.m.Install(w) // a matcher that replaced m in a reload ignores it
	d.mu.Unlock()
}
