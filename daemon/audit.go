package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/matcher"
)

// auditLog writes one JSON line per grant and refusal (a fleet.Event) to
// the config's audit_log; a nil *auditLog writes nothing.
type auditLog struct {
	mu   sync.Mutex
	w    io.WriteCloser
	path string
}

// openAudit opens cfg's audit log for appending (mode 0600), creating
// its directory; nil when there is none.
func openAudit(cfg *config.Config) (*auditLog, error) {
	if cfg.AuditLog == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.AuditLog), 0o700); err != nil {
		return nil, fmt.Errorf("audit_log: %w", err)
	}
	f, err := os.OpenFile(cfg.AuditLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit_log: %w", err)
	}
	return &auditLog{w: f, path: cfg.AuditLog}, nil
}

// write appends e as one line.
func (a *auditLog) write(e fleet.Event) error {
	if a == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.w.Write(append(b, '\n'))
	return err
}

func (a *auditLog) close() error {
	if a == nil {
		return nil
	}
	return a.w.Close()
}

// auditEvent is ev as an audit event of member at now.
func auditEvent(ev matcher.Event, member string, now time.Time) fleet.Event {
	open := make([]string, len(ev.Open))
	for i, k := range ev.Open {
		open[i] = k.String()
	}
	return fleet.Event{Time: now.UTC(), Kind: ev.Kind.String(), Member: member, User: ev.User, Credential: ev.Mode.String(),
		Step: ev.Step, Source: ev.Src.String(), Services: open, Reason: ev.Reason}
}

// audit records ev: a line in the local audit log, and in a fleet the
// event on the fleet's audit subject and a grant on the pool's. d.mu is
// held.
func (d *Daemon) audit(ev matcher.Event) {
	now := d.clock.Now()
	e := auditEvent(ev, d.cfg.ServerID, now)
	if err := d.auditLog.write(e); err != nil {
		d.log.Error("audit_log", "err", err)
	}
	if d.fleet == nil {
		return
	}
	if key, ok := d.fleet.keyOf(ev.User); ok && ev.Kind == matcher.Grant {
		d.fleet.member.Publish(fleet.Grant{User: ev.User, Step: ev.Step, Addrs: slices.Clone(ev.Addrs), Open: e.Services,
			Timeout: d.cfg.OpenTimeout, Sent: now}, key)
	}
	d.fleet.member.Audit(e)
}
