package listener

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrGroupTaken is returned by Open when another socket holds the group.
var ErrGroupTaken = errors.New("the NFLOG group is taken by another program")

// CopyRange is the bytes of each logged packet the kernel copies to the
// listener: the largest IP header (IPv4 with 40 bytes of options; IPv6
// with up to 80 bytes of extension headers), a UDP or ICMP header and a
// packet knock's largest payload, derive.MaxPayload (60 + 8 + 256 = 324,
// 40 + 80 + 8 + 256 = 384). The firewall's NFLOG rules copy as much
// (firewall.CopyRange); a packet longer than this arrives truncated.
const CopyRange = 384

// Stats counts what a source saw. Lost counts packets the kernel logged
// but could not deliver (gaps in NFLOG sequence numbers, socket
// overruns); it is reported, never fatal.
type Stats struct {
	Messages  uint64 // netlink packet messages received
	Knocks    uint64 // packets decoded into knocks
	Malformed uint64 // packets or messages that did not decode
	Truncated uint64 // knocks whose payload the copy range cut: delivered without it
	Lost      uint64
	// Datagrams counts the netlink datagrams read: one per message,
	// or fewer while the kernel batches them under a flood.
	Datagrams uint64
	// Forged counts datagrams refused unread because a process, not the
	// kernel, sent them (a netlink sender's port id other than 0).
	Forged uint64
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
	messages, knocks, malformed, truncated, lost, datagrams, forged atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{Messages: c.messages.Load(), Knocks: c.knocks.Load(), Malformed: c.malformed.Load(),
		Truncated: c.truncated.Load(), Lost: c.lost.Load(), Datagrams: c.datagrams.Load(), Forged: c.forged.Load()}
}
