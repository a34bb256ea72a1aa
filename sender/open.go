package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Prober tries once to connect to the protected service.
type Prober interface {
	// Probe connects to addr within timeout; the caller owns the
	// connection it returns.
	Probe(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (net.Conn, error)
}

// Dialer is the real Prober: TCP connects. While none has answered it
// starts another, the first DialStagger after the first, then each
// twice as long after the last, the earlier ones still waiting: a SYN
// the closed port dropped (the grant was not in yet) is not sent again
// by the kernel for a second, so a lone connect would see the grant
// only when its timeout ends (up to 300 ms after the knock). The first
// to answer wins; with a grant g after the first SYN, the service is
// seen open within about 2g + DialStagger.
type Dialer struct {
	// dial connects once; nil is a net.Dialer's over TCP. Tests set it.
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

// DialStagger is the time between a probe's first two connects.
const DialStagger = 10 * time.Millisecond

// Probe dials addr over TCP within timeout, with staggered connects.
func (d Dialer) Probe(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := d.dial
	if dial == nil {
		var nd net.Dialer
		dial = func(ctx context.Context, a string) (net.Conn, error) { return nd.DialContext(ctx, "tcp", a) }
	}
	type answer struct {
		conn net.Conn
		err  error
	}
	// An attempt still dialing when Probe returns is cancelled; one that
	// answers after it returned closes its connection.
	answers, done := make(chan answer), make(chan struct{})
	defer close(done)
	start := func() {
		go func() {
			c, err := dial(ctx, addr.String())
			select {
			case answers <- answer{c, err}:
			case <-done:
				if c != nil {
					c.Close()
				}
			}
		}()
	}
	start()
	pending, every := 1, DialStagger
	next := time.NewTimer(every)
	defer next.Stop()
	var err error
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			if a.err == nil {
				return a.conn, nil
			}
			err = a.err
		case <-next.C:
			if ctx.Err() == nil {
				start()
				pending++
				every *= 2
				next.Reset(every)
			}
		}
	}
	return nil, err
}

// ErrStillClosed is returned when the service did not answer after every
// attempt.
var ErrStillClosed = errors.New("still closed")

// probeTimeout bounds one connect attempt; a dropped SYN is retried with
// a new one rather than waiting for the kernel's 1 s retransmission.
const probeTimeout = 300 * time.Millisecond

// Wait is what Open waits for after a sequence.
type Wait struct {
	Prober  Prober
	Addr    netip.AddrPort // the protected service
	Timeout time.Duration  // per attempt, from the last knock
}

// Opened describes a successful Open.
type Opened struct {
	Result   Result        // the sequence that opened the door
	Attempts int           // sequences sent, 1 + retries used
	Elapsed  time.Duration // first knock of that sequence to the answer
	Conn     net.Conn      // the connection that answered (nil without Wait)
}

// Open knocks, then waits for the service; while it stays closed it
// knocks again, in a later step, up to retries times. A packet knock is
// also resent within its step while the service stays closed (see
// [Resends]); one sent late in its step is followed, at the next step's
// start, by that step's when the service is still closed then, or when
// there is no Wait to tell. record is called with each knock sent (each
// step used), before waiting, so the used step is kept even if the wait
// is interrupted.
func (k *Knocker) Open(ctx context.Context, r Request, w *Wait, retries int, record func(Result) error) (Opened, error) {
	var lastErr error
	for attempt := 1; attempt <= retries+1; attempt++ {
		res, err := k.Knock(ctx, r)
		if err != nil {
			return Opened{}, err
		}
		if !r.DryRun && record != nil {
			if err := record(res); err != nil {
				return Opened{}, err
			}
		}
		if w == nil || r.DryRun {
			if late(r, res) { // it cannot tell whether the server took it
				if err := k.followUp(ctx, r, &res, record); err != nil {
					return Opened{}, err
				}
			}
			return Opened{Result: res, Attempts: attempt}, nil
		}
		var conn net.Conn
		if r.Mode == derive.ModePacket {
			conn, err = k.waitPacket(ctx, r, &res, w, record)
		} else {
			conn, err = k.wait(ctx, w, k.Clock.Now().Add(w.Timeout), k.Gap)
		}
		r.LastStep, r.HaveLast = res.Step, true
		if err == nil {
			return Opened{Result: res, Attempts: attempt, Elapsed: k.Clock.Now().Sub(res.First), Conn: conn}, nil
		}
		if ctx.Err() != nil {
			return Opened{}, ctx.Err()
		}
		lastErr = err
		if attempt <= retries {
			k.status("%v still closed after %s (%v); knocking again\n", w.Addr, w.Timeout, err)
		}
	}
	return Opened{}, fmt.Errorf("%w: %v did not answer within %s after each of %d sequences (last error: %v)", ErrStillClosed, w.Addr, w.Timeout, retries+1, lastErr)
}

// wait probes the service until it answers or deadline passes.
func (k *Knocker) wait(ctx context.Context, w *Wait, deadline time.Time, settle time.Duration) (net.Conn, error) {
	// Let the last knock reach the server, and its grant the kernel,
	// before the probe's SYN does: a SYN dropped by the closed port is
	// sent again only a second later.
	if err := k.Clock.Sleep(ctx, max(0, min(settle, deadline.Sub(k.Clock.Now())))); err != nil {
		return nil, err
	}
	err := errors.New("no attempt")
	for left := deadline.Sub(k.Clock.Now()); left > 0; left = deadline.Sub(k.Clock.Now()) {
		var conn net.Conn
		start := k.Clock.Now()
		conn, err = w.Prober.Probe(ctx, w.Addr, min(probeTimeout, left))
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A refused connect returns at once: pace the attempts.
		if spent := k.Clock.Now().Sub(start); spent < 50*time.Millisecond {
			if err := k.Clock.Sleep(ctx, 50*time.Millisecond-spent); err != nil {
				return nil, err
			}
		}
	}
	return nil, err
}
