package daemon

import (
	"context"
	"strings"
	"time"
)

// DefaultHealEvery is how often the daemon checks its firewall unless
// Deps.HealEvery says otherwise.
const DefaultHealEvery = 2 * time.Second

// healer checks the firewall on each tick until ctx is done.
func (d *Daemon) healer(ctx context.Context, tick <-chan time.Time) {
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			lastErr = d.heal(lastErr)
		}
	}
}

// heal asks the firewall what of the installed plan is missing (a
// firewall reload, iptables -F, an ipset destroy) and, when anything is,
// installs the plan again, logs one line naming what was missing and
// counts the repair. A failing check or repair is logged when its error
// differs from the last one (lastErr), so a lasting failure logs once;
// heal returns the error of this round, "" for none. It holds
// d.lifecycle: no repair races a reload, none follows Close.
func (d *Daemon) heal(lastErr string) string {
	d.lifecycle.Lock()
	defer d.lifecycle.Unlock()
	if d.closed {
		return ""
	}
	d.mu.Lock()
	plan := d.plan
	d.mu.Unlock()
	missing, err := d.fw.Verify(plan)
	if err != nil {
		if err.Error() != lastErr {
			d.log.Error("checking the firewall", "err", err)
		}
		return err.Error()
	}
	if len(missing) == 0 {
		return ""
	}
	what := strings.Join(missing, "; ")
	if err := d.fw.Setup(plan); err != nil {
		if err.Error() != lastErr {
			d.log.Error("repairing the firewall failed", "missing", what, "err", err)
		}
		return err.Error()
	}
	d.mu.Lock()
	m := d.m
	d.mu.Unlock()
	d.filter.rearm(m) // a recreated set is empty
	d.metrics.repaired()
	d.log.Warn("firewall repaired", "missing", what)
	return ""
}
