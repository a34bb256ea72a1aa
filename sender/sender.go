package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
)

// Writer puts one knock packet on the wire.
type Writer interface {
	// Write sends knock k to dst and says how ("raw SYN", "connect",
	// "ping socket", ...).
	Write(ctx context.Context, dst netip.Addr, k derive.Knock) (how string, err error)
}

// DefaultGap is the default time between two knocks: long enough that
// reordering on the way is rare, short enough to open quickly.
const DefaultGap = 20 * time.Millisecond // no reordering under +-10 ms jitter (attack.TestGapUnderJitter)

// Request is one sequence to send.
type Request struct {
	Secret   []byte
	ServerID string
	Params   derive.Params
	Dst      netip.Addr
	// Name is the host a dry run knocks without resolving it: Dst is
	// then zero and output names the host instead.
	Name     string
	Src      netip.Addr // the bound source for source-bound profiles, else zero
	LastStep uint64     // last step this profile used, if HaveLast
	HaveLast bool
	DryRun   bool // print what would be sent at once, send nothing, wait for nothing
	// Mode is how the profile knocks; for [derive.ModePacket] the knock
	// is one packet carrying Claim (docs/spec.md section 11).
	Mode  derive.Mode
	Claim derive.Claim
	// Auth is how a packet knock is authenticated; for ed25519 Secret is
	// the locator secret and PrivateKey signs.
	Auth       derive.Auth
	PrivateKey []byte
}

// target names where r goes: Dst, or the unresolved Name of a dry run.
func (r Request) target() string {
	if !r.Dst.IsValid() && r.Name != "" {
		return r.Name
	}
	return r.Dst.String()
}

// Result is a sent sequence, or a sent packet knock.
type Result struct {
	Step   uint64
	Knocks []derive.Knock // the sequence, or a packet knock's element
	First  time.Time      // when the first knock left
	Last   time.Time      // when the last knock left
	// Packets counts a packet knock's packets (1 + resends) and Size is
	// the last one's payload size in bytes; both are zero for sequences.
	Packets int
	Size    int
}

// Knocker schedules and sends sequences.
type Knocker struct {
	Clock   clock.Clock
	Writer  Writer
	Gap     time.Duration
	Status  io.Writer // notices the user should see (waits); may be nil
	Verbose io.Writer // one line per packet; nil for quiet
	// OnSent, when set, is called after each packet left: the knock i of
	// total in a sequence, or, for a packet knock, the element with i
	// counting the resends and total 1.
	OnSent func(step uint64, i int, k derive.Knock, total int)
	// Rand gives packet knocks their nonces and payload sizes; nil is
	// crypto/rand. Tests may fix it; a real sender must not.
	Rand io.Reader
}

// ErrClockBehind is returned when the profile's last used step is far
// ahead of the clock: the clock moved back, or the state is stale.
var ErrClockBehind = errors.New("the clock is behind the last used step")

// margin is the time the last knock needs, beyond the gaps, to reach the
// server within the step.
func margin(p derive.Params) time.Duration {
	return min(500*time.Millisecond, p.Period/10)
}

// start returns when the sequence may start: now, the next step when too
// little of this one is left, or the step after the last used one.
func (k *Knocker) start(now time.Time, r Request) (time.Time, string, error) {
	p := r.Params
	step := derive.Step(now, p.Period)
	if r.HaveLast && step <= r.LastStep {
		at := derive.StepStart(r.LastStep+1, p.Period)
		if at.Sub(now) > 2*p.Period {
			return time.Time{}, "", fmt.Errorf("%w: step %d was used, the clock says step %d (fix the clock, or pass --time-offset)", ErrClockBehind, r.LastStep, step)
		}
		return at, fmt.Sprintf("step %d already used by this profile", r.LastStep), nil
	}
	if r.Mode == derive.ModePacket {
		// A packet knock late in the step leaves at once; Open sends the
		// next step's at its start if the service stays closed (late).
		return now, "", nil
	}
	need := time.Duration(p.Knocks-1)*k.Gap + margin(p)
	if derive.Left(now, p.Period) < need {
		return derive.StepStart(step+1, p.Period), "too little of this step is left to finish the sequence", nil
	}
	return now, "", nil
}

// late reports whether res is a packet knock whose first packet left
// within the step's margin of its end: a server with skew 0 may read it
// in the next step and refuse it (docs/spec.md section 11.7).
func late(r Request, res Result) bool {
	if r.Mode != derive.ModePacket || r.DryRun || res.Packets == 0 {
		return false
	}
	end := derive.StepStart(res.Step+1, r.Params.Period)
	return !res.First.Before(end.Add(-margin(r.Params)))
}

// sleepUntil sleeps until the clock reads at. A timer may wake before
// the wall clock reaches at (it runs on the monotonic clock, which NTP
// does not slew): it sleeps the rest, or a knock would be the ended
// step's again.
func (k *Knocker) sleepUntil(ctx context.Context, at time.Time) error {
	for wait := at.Sub(k.Clock.Now()); wait > 0; wait = at.Sub(k.Clock.Now()) {
		if err := k.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	return nil
}

// Knock sends the sequence, or the packet knock, of the first usable
// step. A dry run prints at once what would be sent in that step, with
// the way each packet would leave, and neither sends nor sleeps.
func (k *Knocker) Knock(ctx context.Context, r Request) (Result, error) {
	now := k.Clock.Now()
	at, why, err := k.start(now, r)
	if err != nil {
		return Result{}, err
	}
	if wait := at.Sub(now); wait > 0 && r.DryRun {
		k.status("%s: would wait %s for the next step\n", why, wait.Round(100*time.Millisecond))
		now = at
	} else if wait > 0 {
		k.status("%s: waiting %s for the next step\n", why, wait.Round(100*time.Millisecond))
		if err := k.sleepUntil(ctx, at); err != nil {
			return Result{}, err
		}
		now = k.Clock.Now()
	}
	res := Result{First: now, Step: derive.Step(now, r.Params.Period)}
	if r.Mode == derive.ModePacket {
		return res, k.knockPacket(ctx, r, &res)
	}
	res.Knocks, err = derive.Sequence(r.Secret, r.ServerID, r.Params, res.Step, r.Src)
	if err != nil {
		return Result{}, err
	}
	for i, kn := range res.Knocks {
		if i > 0 && !r.DryRun {
			if err := k.Clock.Sleep(ctx, k.Gap); err != nil {
				return res, err
			}
		}
		how := "dry run, would send by " + How(k.Writer, kn)
		if !r.DryRun {
			if how, err = k.Writer.Write(ctx, r.Dst, kn); err != nil {
				return res, fmt.Errorf("knock %d/%d %v to %v: %w", i+1, len(res.Knocks), kn, r.target(), err)
			}
			res.Last = k.Clock.Now()
			if k.OnSent != nil {
				k.OnSent(res.Step, i, kn, len(res.Knocks))
			}
		}
		k.verbose("knock %d/%d %-9v -> %v (step %d, %s)\n", i+1, len(res.Knocks), kn, r.target(), res.Step, how)
	}
	return res, nil
}

// Describer is a Writer that can say how it would send a knock without
// sending it, for dry runs.
type Describer interface {
	// Describe names the socket a knock k would leave by ("udp socket",
	// "ping socket, else raw socket", ...).
	Describe(k derive.Knock) string
}

// How says how w would send k: its Describe, or its type.
func How(w Writer, k derive.Knock) string {
	if d, ok := w.(Describer); ok {
		return d.Describe(k)
	}
	return fmt.Sprintf("%T", w)
}

func (k *Knocker) status(format string, a ...any) {
	if k.Status != nil {
		fmt.Fprintf(k.Status, format, a...)
	}
}

func (k *Knocker) verbose(format string, a ...any) {
	if k.Verbose != nil {
		fmt.Fprintf(k.Verbose, format, a...)
	}
}
