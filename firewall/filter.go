package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Filter is the kernel's pre-filter of knock packets, an optional part
// of a Backend: with it (and Plan.Filter set) the NFLOG rules log a TCP
// SYN or UDP datagram to the knock range only when its (protocol, port)
// is an armed element or its source is tracked; the rest of the range is
// dropped in the kernel, silently, and never reaches the daemon.
//
// The daemon arms the elements that can begin something in the current
// window (first knocks of sequence users, packet users' elements), each
// until the last step that holds it leaves the window, so the kernel
// forgets stale elements by itself and a rollover only adds. It tracks a
// source when a sequence starts from it, for as long as that sequence
// may live, so the source's strays still reach the matcher and a sweep
// still cancels its own progress.
//
// ICMP elements are armed like the others; a backend that cannot match
// an echo request's sequence number in a set logs every echo request
// whose sequence number lies in the knock range (the iptables backend
// does). Echo requests outside the range are never logged: they are the
// host's (Plan.DropEcho).
type Filter interface {
	// Arm lets knocks to each element through for its TTL. Arming an
	// armed element sets its TTL anew, as the kernel's sets do.
	Arm(elems []Element) error
	// Track lets every knock packet from each source through for its
	// TTL; tracking a tracked source sets its TTL anew.
	Track(srcs []Source) error
}

// Element is a knock the filter lets through, for TTL.
type Element struct {
	Knock derive.Knock
	TTL   time.Duration
}

// Source is an address the filter lets through, for TTL.
type Source struct {
	Addr netip.Addr
	TTL  time.Duration
}

// Names of the filter's kernel sets (iptables backend): the armed ports
// per protocol (bitmap:port over all ports; the rules bound the range)
// and the tracked sources per family (hash:ip).
const (
	FilterTCP  = "otpknock-tcp"
	FilterUDP  = "otpknock-udp"
	FilterSrc4 = "otpknock-src4"
	FilterSrc6 = "otpknock-src6"
)

// MaxTracked is the most sources the filter tracks per family: past it
// a new source replaces one of its hash bucket (ipset forceadd), as the
// matcher evicts its oldest. A flood of first knocks from random
// sources tracks each for sequence_timeout: 262,144 hold 26,000 such
// packets a second for 10 s.
const MaxTracked = 1 << 18

// sourceHashSize is the hash size (buckets) of the iptables backend's
// source sets. The kernel's packet path (the SET target) cannot grow a
// hash: only an add from user space resizes it. At ipset's default of
// 1,024 buckets of 12 entries a flood of first knocks filled the set at
// 12,288 entries and a new client's first knock was not tracked; at
// MaxTracked/8 (32,768 buckets, 393,216 entries) the set holds
// MaxTracked without a resize.
const sourceHashSize = MaxTracked / 8

// ErrFull is wrapped by a Filter's Track refused because a source set
// is full (nftables: ENFILE). The whole call fails, as the kernel's
// transaction does: the caller may hand over its sources in parts.
var ErrFull = errors.New("tracked source set full")

// elementSet is the set of armed ports of proto; "" when the kernel sets
// do not cover it (ICMP).
func elementSet(proto derive.Proto) string {
	switch proto {
	case derive.TCP:
		return FilterTCP
	case derive.UDP:
		return FilterUDP
	}
	return ""
}

// logRules are the NFLOG rules of one protocol: the match m with nflog
// as its target, once without the filter. With it: a packet to an armed
// element tracks its source for p.Track (the SET target, in the kernel:
// the source's next knock cannot overtake the daemon's Track), and is
// logged; a packet from a tracked source to anything else is logged (so
// no packet is logged twice).
func (p Plan) logRules(proto derive.Proto, v6 bool, m, nflog []string) [][]string {
	set := elementSet(proto)
	if !p.Filter || set == "" {
		return [][]string{append(slices.Clone(m), nflog...)}
	}
	src := FilterSrc4
	if v6 {
		src = FilterSrc6
	}
	armedM := append(slices.Clone(m), "-m", "set", "--match-set", set, "dst")
	var r [][]string
	if p.Track > 0 {
		r = append(r, append(slices.Clone(armedM), "-j", "SET", "--add-set", src, "src", "--exist",
			"--timeout", strconv.Itoa(int(ttlSeconds(p.Track)))))
	}
	tracked := append(slices.Clone(m), "-m", "set", "!", "--match-set", set, "dst", "-m", "set", "--match-set", src, "src")
	return append(r, append(armedM, nflog...), append(tracked, nflog...))
}

// renderFilter writes the ipset commands creating the filter's sets, for
// --dry-run.
func (p Plan) renderFilter(b *strings.Builder) {
	if !p.Filter {
		return
	}
	for _, s := range []string{FilterTCP, FilterUDP} {
		fmt.Fprintf(b, "ipset create %s bitmap:port range 0-65535 timeout %d -exist\n", s, filterTimeout)
	}
	for _, s := range []struct{ name, fam string }{{FilterSrc4, "inet"}, {FilterSrc6, "inet6"}} {
		fmt.Fprintf(b, "ipset create %s hash:ip family %s hashsize %d timeout %d maxelem %d forceadd -exist\n", s.name, s.fam, sourceHashSize, filterTimeout, MaxTracked)
	}
}

// filterTimeout is the filter sets' default entry timeout in seconds;
// every entry is added with its own.
const filterTimeout = 60

// ttlSeconds is d in whole seconds, rounded up (an entry never leaves
// before its time), at least 1.
func ttlSeconds(d time.Duration) uint32 {
	s := (d + time.Second - 1) / time.Second
	return uint32(max(1, min(s, 1<<31)))
}
