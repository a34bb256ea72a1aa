package listener

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrGroupTaken is returned by Open when another socket holds the group.
var ErrGroupTaken = errors.New("the NFLOG group is taken by another program")

// Stats counts what a source saw. Lost counts packets the kernel logged
// but could not deliver (gaps in NFLOG sequence numbers, socket
// overruns); it is reported, never fatal.
type Stats struct {
	Messages  uint64 // netlink packet messages received
	Knocks    uint64 // packets decoded into knocks
	Malformed uint64 // packets or messages that did not decode
	Lost      uint64
}

// Source is the kernel boundary of the server's input: something that
// delivers knock packets.
type Source interface {
	// Run calls fn for each knock packet until ctx is done or the source
	// fails. fn runs on one goroutine, in arrival order.
	Run(ctx context.Context, fn func(Packet)) error
	// Stats returns the counters so far.
	Stats() Stats
}

// counters is an atomic Stats.
type counters struct {
	messages, knocks, malformed, lost atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{Messages: c.messages.Load(), Knocks: c.knocks.Load(), Malformed: c.malformed.Load(), Lost: c.lost.Load()}
}
