package fleet

import "context"

// wireStore is a [Store] that can put a grant on the wire from the
// calling goroutine and confirm later that the server has it
// ([JetStream]). The packet path then hands the grant to the network at
// once: waiting for another goroutine (the sender, or the connection's
// own writer) to be scheduled is, on a busy host, a good part of the
// fan-out's tail.
type wireStore interface {
	// WriteGrant publishes g and writes it to the server's connection
	// before it returns, without waiting for an answer.
	WriteGrant(g Grant) error
	// Confirm returns once the server has received everything written
	// before it.
	Confirm(ctx context.Context) error
}

// Publish signs g with the user's member key (SignGrant) and sends it
// to the other members of the pool. A store that can (JetStream) writes
// it to the connection on the caller's goroutine, and the sender
// goroutine confirms it; otherwise the sender publishes it. Publish
// never waits for the server: a store that fails at once, or a full
// queue, counts a failure.
func (m *Member) Publish(g Grant, key []byte) {
	g.Identity, g.Member = m.cfg.Identity, m.cfg.Name
	g = SignGrant(g, key)
	if w, ok := m.store.(wireStore); ok {
		if err := w.WriteGrant(g); err != nil {
			m.failed.Add(1)
			return
		}
	}
	select {
	case m.out <- g:
	default:
		m.failed.Add(1)
	}
}

// sender publishes the grants Publish queued (or, on a wireStore,
// confirms those it wrote), in batches of what is waiting, until ctx
// ends.
func (m *Member) sender(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case g := <-m.out:
			m.send(ctx, m.drain([]Grant{g}))
		}
	}
}

// drain appends the grants waiting in the queue to gs, up to its size.
func (m *Member) drain(gs []Grant) []Grant {
	for len(gs) < cap(m.out) {
		select {
		case g := <-m.out:
			gs = append(gs, g)
		default:
			return gs
		}
	}
	return gs
}

// send counts gs sent or failed: on a wireStore, where Publish has
// written them, after one round trip to the server for the batch; on
// other stores, publishing each.
func (m *Member) send(ctx context.Context, gs []Grant) {
	c, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if w, ok := m.store.(wireStore); ok {
		if w.Confirm(c) != nil {
			m.failed.Add(uint64(len(gs)))
			return
		}
		m.sent.Add(uint64(len(gs)))
		return
	}
	for _, g := range gs {
		if m.store.PublishGrant(c, g) != nil {
			m.failed.Add(1)
			continue
		}
		m.sent.Add(1)
	}
}
