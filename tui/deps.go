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

// Sent reports one packet that left.
type Sent struct {
	Step  uint64
	Index int // from 0
	Knock derive.Knock
	Total int
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
}
