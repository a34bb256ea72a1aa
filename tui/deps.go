package tui

import (
	"context"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
)

// Store holds the profiles; Add and Remove save at once.
type Store interface {
	List() []profile.Profile
	Add(profile.Profile) error
	Remove(name string) error
	// Name proposes a free profile name for an imported account.
	Name(profile.Profile) string
}

// Knocker sends a profile's current sequence and checks its service.
type Knocker interface {
	// Knock sends the sequence, calling sent after each packet, then
	// waits for the profile's first TCP service when it has one.
	Knock(ctx context.Context, p profile.Profile, sent func(Sent)) (Outcome, error)
}

// Sent reports one packet that left, or, when Note is set, a line the
// knock has to say (a wait for the next step, a public address, the
// Source fallback) and no packet.
type Sent struct {
	Step  uint64
	Index int // from 0
	Knock derive.Knock
	Total int
	Note  string
}

// Outcome is the result of a knock.
type Outcome struct {
	Step     uint64
	Service  string // "198.18.0.1:22", empty when nothing was checked
	Opened   bool
	Elapsed  time.Duration // first knock to open
	Attempts int
	Reason   string // why it is still closed, when known
}

// Clipboard copies text for the user.
type Clipboard interface {
	// Copy copies text and returns how, for the status line ("xclip").
	Copy(text string) (via string, err error)
}

// Deps are the model's side effects.
type Deps struct {
	Store     Store
	Knocker   Knocker
	Clipboard Clipboard
	Clock     clock.Clock
	// LastStep returns the last step a profile knocked in (its state),
	// so the panel shows the knock enter sends: after a knock in this
	// step, the next step's. nil: not known.
	LastStep func(profile string) (uint64, bool)
}
