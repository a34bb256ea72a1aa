package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The NFT backend's Filter: one set of armed elements keyed
// inet_proto . inet_service (TCP and UDP ports; an ICMP element is the
// echo request's sequence number, armed under icmp and ipv6-icmp), and
// one set of tracked sources per family (flags dynamic, so the packet
// path itself updates it), every element with its own timeout. With
// Plan.Filter each knock match of the input chain becomes, per family:
//
//	MATCH meta nfproto ipv4 meta l4proto . th dport @armed update @src4 { ip saddr timeout TRACK }
//	MATCH meta l4proto . th dport @armed log ...
//	MATCH meta nfproto ipv4 meta l4proto . th dport != @armed ip saddr @src4 log ...
//
// so a packet to an armed element tracks its source before the daemon
// hears of it, and no packet is logged twice; the rest of the range
// falls through to the drops. The update is a rule of its own: when the
// source set is full (MaxTracked per family) the update fails, the
// packet is still logged, and new sources wait for old ones to expire
// (nftables has no forceadd).

// Offsets in the transport header of the value a knock's element holds.
const (
	portOffset     = 2 // TCP and UDP destination port
	sequenceOffset = 6 // ICMP and ICMPv6 echo sequence number
)

// nftChunk is the most elements one NEWSETELEM message carries: the
// element list is one netlink attribute, whose length is 16 bits, and
// 1,024 IPv6 sources of 40 bytes stay well under 64 KiB. nftTxElems is
// the most elements one transaction adds: every element the armed set
// can hold (65,536 per protocol, ICMP twice), so a window is always one
// transaction (a commit costs far more than its elements). At 32 bytes
// an element (40 for an IPv6 source), added once, the batch fits the
// socket's send buffer (nftSockBuf); on kernels that need three
// messages per chunk the largest windows take a few transactions.
const (
	nftChunk   = 1024
	nftTxElems = 1 << 18
	nftSockBuf = 16 << 20
)

// nftFilterSets are the filter's sets; IDs follow the grant sets'.
func nftFilterSets(t *nftables.Table) []*nftables.Set {
	src := func(id uint32, name string, typ nftables.SetDatatype) *nftables.Set {
		return &nftables.Set{Table: t, ID: id, Name: name, HasTimeout: true, Dynamic: true, Size: MaxTracked, KeyType: typ}
	}
	return []*nftables.Set{
		{Table: t, ID: 3, Name: NFTArmed, HasTimeout: true, Concatenation: true,
			KeyType: nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)},
		src(4, NFTSrc4, nftables.TypeIPAddr),
		src(5, NFTSrc6, nftables.TypeIP6Addr),
	}
}

// nftLogRules are the log rules of one knock match m whose element's
// value lies at off in the transport header, for the families fams:
// one rule logging all of m without the filter, else the three kinds
// above.
func (p Plan) nftLogRules(m []expr.Any, off uint32, fams []bool) [][]expr.Any {
	logTo := nftLog(p.Group)
	if !p.Filter {
		return [][]expr.Any{join(m, logTo)}
	}
	var r [][]expr.Any
	if p.Track > 0 {
		for _, v6 := range fams {
			r = append(r, join(m, nfproto(v6), armedLookup(off, false), trackSource(v6, p.Track)))
		}
	}
	r = append(r, join(m, armedLookup(off, false), logTo))
	for _, v6 := range fams {
		r = append(r, join(m, nfproto(v6), armedLookup(off, true), sourceLookup(v6), logTo))
	}
	return r
}

// armedLookup matches meta l4proto . (the 16 bits at off) in the armed
// set, or its absence when invert.
func armedLookup(off uint32, invert bool) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 8},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		&expr.Lookup{SourceRegister: 8, SetName: NFTArmed, Invert: invert},
	}
}

// saddr loads the source address of the family into register 1.
func saddr(v6 bool) *expr.Payload {
	if v6 {
		return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16}
	}
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

func srcSet(v6 bool) string {
	if v6 {
		return NFTSrc6
	}
	return NFTSrc4
}

// sourceLookup matches a tracked source of the family.
func sourceLookup(v6 bool) []expr.Any {
	return []expr.Any{saddr(v6), &expr.Lookup{SourceRegister: 1, SetName: srcSet(v6)}}
}

// trackSource adds the source to its family's set, or sets its timeout
// anew, for ttl (whole seconds, rounded up).
func trackSource(v6 bool, ttl time.Duration) []expr.Any {
	return []expr.Any{saddr(v6), &expr.Dynset{SrcRegKey: 1, SetName: srcSet(v6), Operation: unix.NFT_DYNSET_OP_UPDATE,
		Timeout: time.Duration(ttlSeconds(ttl)) * time.Second}}
}

// armedKey is the armed set's element of (proto, value): each field
// padded to 4 bytes.
func armedKey(proto byte, value uint16) []byte { return appendArmedKey(nil, proto, value) }

func appendArmedKey(b []byte, proto byte, value uint16) []byte {
	return append(b, proto, 0, 0, 0, byte(value>>8), byte(value), 0, 0)
}

// addRefreshes reports whether the running kernel sets an existing
// element's expiry anew when it is added again with an expiration:
// Linux 6.12 and later.
func addRefreshes() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 6 || major == 6 && minor >= 12
}

// parseArmedKey decodes armedKey.
func parseArmedKey(b []byte) (byte, uint16, bool) {
	if len(b) != 8 {
		return 0, 0, false
	}
	return b[0], uint16(b[4])<<8 | uint16(b[5]), true
}

// Arm adds each element to the armed set for its TTL (whole seconds,
// rounded up), an ICMP element under icmp and ipv6-icmp, in one
// transaction.
func (n *NFT) Arm(elems []Element) error {
	if len(elems) == 0 {
		return nil
	}
	els := make([]nftables.SetElement, 0, len(elems))
	keys := make([]byte, 0, 16*len(elems)) // one allocation for every key
	add := func(proto byte, e Element) {
		keys = appendArmedKey(keys, proto, e.Knock.Port)
		els = append(els, nftables.SetElement{Key: keys[len(keys)-8:], Timeout: time.Duration(ttlSeconds(e.TTL)) * time.Second})
	}
	for _, e := range elems {
		r, _ := e.Knock.Proto.Info()
		add(r.IP4, e)
		if r.IP6 != r.IP4 { // ICMP and ICMPv6
			add(r.IP6, e)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refresh(fmt.Sprintf("arming %d elements in set %s", len(elems), NFTArmed),
		setElements{nftFilterSets(nftTable())[0], els})
}

// Track adds each source to its family's set for its TTL (whole
// seconds, rounded up), in one transaction: a source set that is full
// refuses the whole transaction (ENFILE, wrapped with ErrFull).
func (n *NFT) Track(srcs []Source) error {
	if len(srcs) == 0 {
		return nil
	}
	var fams [2][]nftables.SetElement
	for _, s := range srcs {
		a, i := s.Addr.Unmap(), 0
		if a.Is6() {
			i = 1
		}
		fams[i] = append(fams[i], nftables.SetElement{Key: a.AsSlice(), Timeout: time.Duration(ttlSeconds(s.TTL)) * time.Second})
	}
	sets := nftFilterSets(nftTable())
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.refresh(fmt.Sprintf("tracking %d sources in sets %s and %s", len(srcs), NFTSrc4, NFTSrc6),
		setElements{sets[1], fams[0]}, setElements{sets[2], fams[1]})
	if errors.Is(err, unix.ENFILE) {
		return fmt.Errorf("%w (%w)", err, ErrFull)
	}
	return err
}

// setElements are elements to add to a set.
type setElements struct {
	set *nftables.Set
	els []nftables.SetElement
}

// refresh adds the elements to their sets with their timeouts, in one
// transaction per txElems elements (one for any window on Linux 6.12
// and later); what names the job in errors.
func (n *NFT) refresh(what string, todo ...setElements) error {
	queued := 0
	for _, t := range todo {
		for els := t.els; len(els) > 0; {
			k := min(len(els), n.txElems()-queued)
			if err := n.queueRefresh(t.set, els[:k]); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			els, queued = els[k:], queued+k
			if queued == n.txElems() {
				if err := n.elems.Flush(); err != nil {
					return nftErr(what, err)
				}
				queued = 0
			}
		}
	}
	if queued == 0 {
		return nil
	}
	return nftErr(what, n.elems.Flush())
}

// txElems is the most elements one transaction refreshes: a third of
// nftTxElems where each chunk is sent three times.
func (n *NFT) txElems() int {
	if n.addRefreshes {
		return nftTxElems
	}
	return nftTxElems / 3
}

// queueRefresh queues adding els to set with their timeouts, in
// messages of nftChunk elements. From Linux 6.12 adding an element that
// exists with an expiration sets its expiry anew; on older kernels, which keep the old
// one, each chunk is added, deleted and added again, as Grant does (at
// three times the cost).
func (n *NFT) queueRefresh(set *nftables.Set, els []nftables.SetElement) error {
	if n.addRefreshes {
		// The add must name the expiration: Linux keeps the expiry of
		// an element added again with its own timeout.
		for i := range els {
			els[i].Expires = els[i].Timeout
		}
		var errs []error
		for ; len(els) > 0; els = els[min(len(els), nftChunk):] {
			errs = append(errs, n.elems.SetAddElements(set, els[:min(len(els), nftChunk)]))
		}
		return errors.Join(errs...)
	}
	keys := make([]nftables.SetElement, len(els))
	for i, e := range els {
		keys[i].Key, keys[i].KeyEnd = e.Key, e.KeyEnd
	}
	var errs []error
	for len(els) > 0 {
		k := min(len(els), nftChunk)
		errs = append(errs, n.elems.SetAddElements(set, els[:k]),
			n.elems.SetDeleteElements(set, keys[:k]),
			n.elems.SetAddElements(set, els[:k]))
		els, keys = els[k:], keys[k:]
	}
	return errors.Join(errs...)
}

// filterKey renders an element of the filter's sets: "tcp . 30000" or
// an address.
func filterKey(b []byte) (string, bool) {
	if proto, v, ok := parseArmedKey(b); ok {
		return fmt.Sprintf("%s . %d", protoName(proto), v), true
	}
	if a, ok := netip.AddrFromSlice(b); ok {
		return a.String(), true
	}
	return "", false
}
