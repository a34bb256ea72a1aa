package sender

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Copies of a packet knock while the service stays closed (docs/spec.md
// section 11.7): the same step's packet, each time with a new nonce and
// a newly drawn size, ResendAfter apart, at most Resends times, never
// once the service answered, nor within the step's margin of its end
// (a packet sent then is followed by the next step's instead: Open).
const (
	ResendAfter = 300 * time.Millisecond
	// PacketSettle is the most a packet knock waits before its first
	// probe: the one packet travels ahead of the probe's SYN on the same
	// path, and the server grants within a millisecond of logging it.
	PacketSettle = 5 * time.Millisecond
	Resends      = 3
)

// ErrNoPayload is returned when a packet knock is given a Writer that
// cannot carry a payload.
var ErrNoPayload = errors.New("the writer cannot send a payload (packet knocks need a PayloadWriter)")

// knockPacket derives the element of res.Step and sends the first packet.
func (k *Knocker) knockPacket(ctx context.Context, r Request, res *Result) error {
	pd, err := newSealer(r)
	if err != nil {
		return err
	}
	el, err := pd.Knock(res.Step)
	if err != nil {
		return err
	}
	res.Knocks = []derive.Knock{el}
	return k.sendPacket(ctx, r, pd, res)
}

// sendPacket seals r.Claim for res.Step under a fresh nonce in a payload
// of a freshly drawn size and sends it to the element.
func (k *Knocker) sendPacket(ctx context.Context, r Request, pd sealer, res *Result) error {
	el := res.Knocks[0]
	lo, hi := derive.SizeRange(r.Claim) // the same for both modes
	size, err := drawSize(k.rand(), lo, hi)
	if err != nil {
		return err
	}
	nonce := make([]byte, derive.NonceSize)
	if _, err := io.ReadFull(k.rand(), nonce); err != nil {
		return fmt.Errorf("packet nonce: %w", err)
	}
	payload, err := pd.Seal(make([]byte, 0, size), res.Step, nonce, r.Claim, r.Src, size)
	if err != nil {
		return err
	}
	res.Size = size
	n := res.Packets + 1
	if r.DryRun {
		k.verbose("packet %v -> %v (step %d, %d-byte payload, dry run, would send by %s)\n", el, r.target(), res.Step, size, How(k.Writer, el))
		return nil
	}
	pw, ok := k.Writer.(PayloadWriter)
	if !ok {
		return fmt.Errorf("packet %v to %v: %w", el, r.Dst, ErrNoPayload)
	}
	how, err := pw.WritePayload(ctx, r.Dst, el, payload)
	if err != nil {
		return fmt.Errorf("packet %v to %v: %w", el, r.Dst, err)
	}
	res.Packets, res.Last = n, k.Clock.Now()
	if n == 1 {
		res.First = res.Last
	}
	if k.OnSent != nil {
		k.OnSent(res.Step, n-1, el, 1)
	}
	k.verbose("packet %d %v -> %v (step %d, %d-byte payload, %s)\n", n, el, r.Dst, res.Step, size, how)
	return nil
}

// waitPacket probes the service after a packet knock; while it stays
// closed it sends a copy every ResendAfter, at most Resends times, then
// waits for the rest of w.Timeout (docs/spec.md section 11.7). It stops
// sending copies as soon as the service answers, and sends none when
// less than the step's margin is left or the step has ended: the server
// would read such a copy in the next step and refuse it. Without a Wait
// (Open's w nil: the service cannot be tested) no copy is sent at all.
//
// A packet sent late in its step (within the margin of its end) has no
// copies; waitPacket probes until the step ends and, if the service is
// still closed then, sends the next step's packet at its start (a server
// with skew 0 refuses the late one) and carries on with that step.
func (k *Knocker) waitPacket(ctx context.Context, r Request, res *Result, w *Wait, record func(Result) error) (net.Conn, error) {
	if late(r, *res) {
		end := derive.StepStart(res.Step+1, r.Params.Period)
		conn, err := k.wait(ctx, w, end, min(k.Gap, PacketSettle))
		if err == nil || ctx.Err() != nil {
			return conn, err
		}
		if err := k.followUp(ctx, r, res, record); err != nil {
			return nil, err
		}
	}
	pd, err := newSealer(r)
	if err != nil {
		return nil, err
	}
	deadline := k.Clock.Now().Add(w.Timeout)
	for i := 0; ; i++ {
		until, copies := deadline, i < Resends && k.mayCopy(r, res)
		if next := k.Clock.Now().Add(ResendAfter); copies && next.Before(deadline) {
			until = next
		}
		conn, err := k.wait(ctx, w, until, min(k.Gap, PacketSettle))
		if err == nil || ctx.Err() != nil || !copies || !k.Clock.Now().Before(deadline) {
			return conn, err
		}
		if !k.mayCopy(r, res) { // the step ran out while probing
			return k.wait(ctx, w, deadline, 0)
		}
		if err := k.sendPacket(ctx, r, pd, res); err != nil {
			return nil, err
		}
	}
}

// followUp sends the packet knock of the step after res.Step at that
// step's start, records it, and makes res that knock; res.First stays
// the first packet's time, so knock-to-open counts from it.
func (k *Knocker) followUp(ctx context.Context, r Request, res *Result, record func(Result) error) error {
	next := res.Step + 1
	if err := k.sleepUntil(ctx, derive.StepStart(next, r.Params.Period)); err != nil {
		return err
	}
	k.verbose("step %d sent late (a server with skew 0 reads it in the next step): knocking with step %d\n", res.Step, next)
	res.Step = next
	if err := k.knockPacket(ctx, r, res); err != nil {
		return err
	}
	if record == nil {
		return nil
	}
	return record(*res)
}

// mayCopy reports whether a copy of res's packet may leave now: more
// than the step's margin (as for a first knock) is left of res.Step.
func (k *Knocker) mayCopy(r Request, res *Result) bool {
	end := derive.StepStart(res.Step+1, r.Params.Period)
	return k.Clock.Now().Before(end.Add(-margin(r.Params)))
}

func (k *Knocker) rand() io.Reader {
	if k.Rand != nil {
		return k.Rand
	}
	return rand.Reader
}

// drawSize returns a payload size drawn uniformly from lo..hi.
func drawSize(r io.Reader, lo, hi int) (int, error) {
	n, err := rand.Int(r, big.NewInt(int64(hi-lo+1)))
	if err != nil {
		return 0, fmt.Errorf("packet size: %w", err)
	}
	return lo + int(n.Int64()), nil
}
