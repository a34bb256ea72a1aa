package listener

import "time"

// Kernel batching of NFLOG messages (NFLOG.Run): past busyRate messages
// a second, measured over rateWindow, the kernel holds messages up to
// 10 ms and sends them together, so that a flood that reaches the
// listener wakes it about a hundred times a second, not once per
// packet; once the rate stays under half of busyRate for calmAfter,
// each message goes out at once again. A knock, a sequence, or a few
// users knocking at once stay far below busyRate and are never delayed;
// under such a flood a knock waits 10 ms at most.
const (
	busyRate   = 500
	rateWindow = 20 * time.Millisecond
	calmAfter  = time.Second
)

// batcher decides from the count of messages read when the kernel
// should batch them.
type batcher struct {
	since time.Time // the start of the window
	count uint64    // the messages read before it
	on    bool      // batching
	calm  time.Time // since when the rate is under busyRate/2; zero: it is not
}

// update takes the count of messages read so far at now and returns
// whether to batch, and whether that changed.
func (b *batcher) update(now time.Time, messages uint64) (on, changed bool) {
	d := now.Sub(b.since)
	if d < rateWindow {
		return b.on, false
	}
	rate := float64(messages-b.count) / d.Seconds()
	b.since, b.count = now, messages
	switch {
	case !b.on && rate > busyRate:
		b.on, b.calm = true, time.Time{}
		return true, true
	case b.on && rate >= busyRate/2:
		b.calm = time.Time{}
	case b.on && b.calm.IsZero():
		b.calm = now
	case b.on && now.Sub(b.calm) >= calmAfter:
		b.on = false
		return false, true
	}
	return b.on, false
}

// deadline is when Run stops waiting for the socket to look at the rate
// again: while batching, calmAfter from now (the end of a flood leaves
// nothing to read); otherwise never (the zero time).
func (b *batcher) deadline(now time.Time) time.Time {
	if !b.on {
		return time.Time{}
	}
	return now.Add(calmAfter)
}
