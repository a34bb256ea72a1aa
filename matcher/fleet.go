package matcher

import (
	"errors"
)

// ErrStepUsed is what Config.UseStep returns for a step another server
// of the pool has already used: the knock is a Replay. Any other error
// refuses the knock, with the error as its reason.
var ErrStepUsed = errors.New("step already used in the pool")

// poolUse asks Config.UseStep, if set, whether this server may use
// (user, step): Grant, or Replay (ErrStepUsed) or Refused (any other
// error) with the reason.
func (m *Matcher) poolUse(user string, step uint64) (Kind, string) {
	if m.cfg.UseStep == nil {
		return Grant, ""
	}
	err := m.cfg.UseStep(user, step)
	switch {
	case err == nil:
		return Grant, ""
	case errors.Is(err, ErrStepUsed):
		return Replay, "used by another member of the pool"
	}
	return Refused, err.Error()
}

// serverID is the server id u derives with: its own (a fleet user's
// identity) or the matcher's.
func (u User) serverID(cfg Config) string {
	if u.ServerID != "" {
		return u.ServerID
	}
	return cfg.ServerID
}
