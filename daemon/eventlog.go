package daemon

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/matcher"
)

// Bounds of an eventLog, per (outcome, user, step, reason).
const (
	// maxLoggedSources is how many distinct sources get their own line:
	// the client's own resends and a stranger's replay both show, and
	// fail2ban sees the first few addresses.
	maxLoggedSources = 4
	// maxCountedSources bounds the distinct sources counted: a flood
	// from random sources is reported as at least this many.
	maxCountedSources = 1024
)

// eventLog logs replays and refused sources without letting a sender
// flood the log. Anyone who saw one valid packet knock can replay it
// from any number of forged sources until its step leaves the window,
// each a matcher event. The events of each (outcome, user, step, reason)
// from its first maxLoggedSources distinct sources get their line, as a
// grant does; the rest are counted, and one summary line per key follows
// once its step has left the window (or at Close). The lines an attacker
// can cause are bounded (maxLoggedSources+1 per user, step, outcome and
// reason), and so is the log's memory, by the users' steps in the window.
// Its owner holds Daemon.mu.
type eventLog struct {
	log        *slog.Logger
	suppressed func() // counts an event not logged
	keys       map[eventKey]*eventCount
}

// eventKey is what an eventLog logs a bounded number of lines of.
type eventKey struct {
	kind   matcher.Kind
	user   string
	step   uint64
	reason string
}

// eventCount is what an eventLog saw of a key.
type eventCount struct {
	count   uint64 // events, the logged ones included
	logged  int    // events that got their line
	sources map[netip.Addr]struct{}
	capped  bool // more distinct sources than maxCountedSources
}

func newEventLog(log *slog.Logger, suppressed func()) *eventLog {
	return &eventLog{log: log, suppressed: suppressed, keys: map[eventKey]*eventCount{}}
}

// record logs ev's line with attrs if its source is new to its key and
// fewer than maxLoggedSources were logged, else counts it. ev is a
// Replay or a Refused.
func (l *eventLog) record(ev matcher.Event, attrs []any) {
	k := eventKey{ev.Kind, ev.User, ev.Step, ev.Reason}
	c := l.keys[k]
	if c == nil {
		c = &eventCount{sources: map[netip.Addr]struct{}{}}
		l.keys[k] = c
	}
	c.count++
	_, seen := c.sources[ev.Src]
	if !seen && c.logged < maxLoggedSources {
		c.sources[ev.Src] = struct{}{}
		c.logged++
		l.log.Warn(eventMsg(ev.Kind, false), attrs...)
		return
	}
	l.suppressed()
	switch {
	case seen:
	case len(c.sources) >= maxCountedSources:
		c.capped = true
	default:
		c.sources[ev.Src] = struct{}{}
	}
}

// flush writes the summary of each key whose step has no time left in
// the window at now (its step plus skew steps of period have ended),
// and forgets it; a zero now flushes every key.
func (l *eventLog) flush(now time.Time, period time.Duration, skew int) {
	for k, c := range l.keys {
		if !now.IsZero() && now.Before(derive.StepStart(k.step+uint64(skew)+1, period)) {
			continue
		}
		delete(l.keys, k)
		if c.count == uint64(c.logged) {
			continue // every event has its line
		}
		attrs := []any{"user", k.user, "step", k.step, "count", c.count, "sources", len(c.sources)}
		if c.capped {
			attrs = append(attrs, "sources_capped", true)
		}
		if k.reason != "" {
			attrs = append(attrs, "reason", k.reason)
		}
		l.log.Warn(eventMsg(k.kind, true), attrs...)
	}
}

// eventMsg is the message of an event's line, or of its summary.
func eventMsg(k matcher.Kind, summary bool) string {
	switch {
	case k == matcher.Replay && summary:
		return "replays"
	case k == matcher.Replay:
		return "replay"
	case summary:
		return "refused sources"
	default:
		return "refused source"
	}
}
