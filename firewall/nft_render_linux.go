package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// renderExprs renders a rule's expressions in nft's syntax, as far as
// otpknock's rules need it; other expressions show their Go type.
func renderExprs(exprs []expr.Any) string {
	r := renderer{regs: map[uint32]string{}, masks: map[uint32][]byte{}}
	for _, e := range exprs {
		r.expr(e)
	}
	return strings.Join(r.out, " ")
}

// renderer follows the registers of a rule: what each one holds.
type renderer struct {
	regs    map[uint32]string // 32-bit register -> the field loaded into it
	masks   map[uint32][]byte // 32-bit register -> the bitwise mask applied
	pending []uint32          // registers loaded and not yet used
	proto   byte              // the last matched meta l4proto
	out     []string
}

// reg32 maps a 128-bit register (1-4) onto its first 32-bit register.
func reg32(r uint32) uint32 {
	if r >= 1 && r <= 4 {
		return 8 + (r-1)*4
	}
	return r
}

func (r *renderer) load(reg uint32, name string) {
	reg = reg32(reg)
	r.regs[reg] = name
	delete(r.masks, reg)
	r.pending = append(r.pending, reg)
}

func (r *renderer) expr(e expr.Any) {
	switch e := e.(type) {
	case *expr.Meta:
		r.load(e.Register, metaName(e.Key))
	case *expr.Payload:
		r.load(e.DestRegister, r.payloadName(e))
	case *expr.Ct:
		r.load(e.Register, ctName(e))
	case *expr.Fib:
		r.load(e.Register, fibName(e))
	case *expr.Bitwise:
		src, dst := reg32(e.SourceRegister), reg32(e.DestRegister)
		r.regs[dst], r.masks[dst] = r.regs[src], e.Mask
	case *expr.Cmp:
		r.cmp(e)
	case *expr.Range:
		name := r.regs[reg32(e.Register)]
		r.emit(fmt.Sprintf("%s %s-%s", name, value(name, e.FromData), value(name, e.ToData)))
	case *expr.Lookup:
		var names []string
		for _, reg := range r.pending {
			if reg >= reg32(e.SourceRegister) {
				names = append(names, r.regs[reg])
			}
		}
		op := " @"
		if e.Invert {
			op = " != @"
		}
		r.emit(strings.Join(names, " . ") + op + e.SetName)
	case *expr.Dynset:
		r.emit(r.dynset(e))
	case *expr.Log:
		r.emit(fmt.Sprintf("log group %d snaplen %d", e.Group, e.Snaplen))
	case *expr.Verdict:
		r.emit(verdictName(e))
	case *expr.Counter:
		r.emit("counter")
	default:
		r.emit(fmt.Sprintf("%T", e))
	}
}

// dynset renders an update of a set with the registers loaded for it.
func (r *renderer) dynset(e *expr.Dynset) string {
	var names []string
	for _, reg := range r.pending {
		if reg >= reg32(e.SrcRegKey) {
			names = append(names, r.regs[reg])
		}
	}
	op := map[uint32]string{unix.NFT_DYNSET_OP_ADD: "add", unix.NFT_DYNSET_OP_UPDATE: "update"}[e.Operation]
	timeout := ""
	if e.Timeout > 0 {
		timeout = " timeout " + e.Timeout.String()
	}
	return fmt.Sprintf("%s @%s { %s%s }", op, e.SetName, strings.Join(names, " . "), timeout)
}

func (r *renderer) emit(s string) {
	r.out = append(r.out, s)
	r.pending = nil
}

func (r *renderer) cmp(e *expr.Cmp) {
	reg := reg32(e.Register)
	name := r.regs[reg]
	if name == "meta l4proto" && e.Op == expr.CmpOpEq && len(e.Data) == 1 {
		r.proto = e.Data[0]
	}
	op := map[expr.CmpOp]string{expr.CmpOpEq: "==", expr.CmpOpNeq: "!=", expr.CmpOpLt: "<",
		expr.CmpOpLte: "<=", expr.CmpOpGt: ">", expr.CmpOpGte: ">="}[e.Op]
	mask, masked := r.masks[reg]
	switch {
	case masked && e.Op == expr.CmpOpNeq && isZero(e.Data):
		r.emit(name + " " + value(name, mask))
	case masked:
		r.emit(fmt.Sprintf("%s & (%s) %s %s", name, value(name, mask), op, value(name, e.Data)))
	case e.Op == expr.CmpOpEq:
		r.emit(name + " " + value(name, e.Data))
	default:
		r.emit(name + " " + op + " " + value(name, e.Data))
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func metaName(k expr.MetaKey) string {
	switch k {
	case expr.MetaKeyL4PROTO:
		return "meta l4proto"
	case expr.MetaKeyNFPROTO:
		return "meta nfproto"
	}
	return fmt.Sprintf("meta key %d", k)
}

func (r *renderer) payloadName(e *expr.Payload) string {
	switch {
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2 && e.Len == 2:
		return "th dport"
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 13 && e.Len == 1 && r.proto == 6:
		return "tcp flags"
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 0 && e.Len == 1 && r.proto == 1:
		return "icmp type"
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 0 && e.Len == 1 && r.proto == 58:
		return "icmpv6 type"
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == sequenceOffset && e.Len == 2 && r.proto == 1:
		return "icmp sequence"
	case e.Base == expr.PayloadBaseTransportHeader && e.Offset == sequenceOffset && e.Len == 2 && r.proto == 58:
		return "icmpv6 sequence"
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 12 && e.Len == 4:
		return "ip saddr"
	case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 8 && e.Len == 16:
		return "ip6 saddr"
	}
	base := map[expr.PayloadBase]string{expr.PayloadBaseLLHeader: "ll",
		expr.PayloadBaseNetworkHeader: "nh", expr.PayloadBaseTransportHeader: "th"}[e.Base]
	return fmt.Sprintf("@%s,%d,%d", base, e.Offset*8, e.Len*8)
}

func ctName(e *expr.Ct) string {
	switch {
	case e.Key == expr.CtKeySTATE:
		return "ct state"
	case e.Key == expr.CtKeySTATUS:
		return "ct status"
	case e.Key == expr.CtKeyPROTODST && e.Direction == 0:
		return "ct original proto-dst"
	}
	return fmt.Sprintf("ct key %d dir %d", e.Key, e.Direction)
}

func fibName(e *expr.Fib) string {
	if e.FlagDADDR && e.ResultADDRTYPE && !e.FlagSADDR && !e.FlagIIF && !e.FlagOIF && !e.FlagMARK {
		return "fib daddr type"
	}
	return fmt.Sprintf("fib %+v", *e)
}

func verdictName(e *expr.Verdict) string {
	switch e.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictJump:
		return "jump " + e.Chain
	case expr.VerdictGoto:
		return "goto " + e.Chain
	}
	return fmt.Sprintf("verdict %d", e.Kind)
}

// value renders data as the field name holds it.
func value(name string, b []byte) string {
	switch name {
	case "meta l4proto":
		if len(b) == 1 {
			return protoName(b[0])
		}
	case "meta nfproto":
		if len(b) == 1 {
			return map[byte]string{2: "ipv4", 10: "ipv6"}[b[0]]
		}
	case "th dport", "ct original proto-dst", "icmp sequence", "icmpv6 sequence":
		if len(b) == 2 {
			return fmt.Sprint(binary.BigEndian.Uint16(b))
		}
	case "tcp flags":
		if len(b) == 1 {
			return flagNames(uint32(b[0]), []string{"fin", "syn", "rst", "psh", "ack", "urg"})
		}
	case "icmp type", "icmpv6 type":
		if len(b) == 1 && (b[0] == 8 || b[0] == 128) {
			return "echo-request"
		}
	case "fib daddr type":
		if len(b) == 4 && binaryutil.NativeEndian.Uint32(b) == 2 {
			return "local"
		}
	case "ct state":
		if len(b) == 4 {
			return flagNames(binaryutil.NativeEndian.Uint32(b), []string{"invalid", "established", "related", "new"})
		}
	case "ct status":
		if len(b) == 4 {
			return flagNames(binaryutil.NativeEndian.Uint32(b), []string{"expected", "seen-reply", "assured", "confirmed", "snat", "dnat"})
		}
	}
	return fmt.Sprintf("0x%x", b)
}

func flagNames(v uint32, names []string) string {
	var out []string
	for i, n := range names {
		if v&(1<<i) != 0 {
			out = append(out, n)
			v &^= 1 << i
		}
	}
	if v != 0 || len(out) == 0 {
		out = append(out, fmt.Sprintf("0x%x", v))
	}
	if len(out) > 1 && strings.Contains(strings.Join(names, ""), "fin") {
		return strings.Join(out, "|")
	}
	return strings.Join(out, ",")
}

func protoName(p byte) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}

// renderSet renders a set's declaration.
func renderSet(s *nftables.Set) string {
	flags := ""
	if s.HasTimeout {
		flags = " flags timeout;"
	}
	if s.HasTimeout && s.Dynamic {
		flags = " flags dynamic,timeout;"
	}
	if s.HasTimeout && s.Interval {
		flags = " flags interval,timeout;"
	}
	size := ""
	if s.Size > 0 {
		size = fmt.Sprintf(" size %d;", s.Size)
	}
	return fmt.Sprintf("set %s { type %s;%s%s }", s.Name, s.KeyType.Name, size, flags)
}

// grantKey encodes (src, proto, port) as an element of the concatenated
// set type: each field padded to 4 bytes.
func grantKey(src netip.Addr, proto byte, port uint16) []byte {
	b := append(src.AsSlice(), proto, 0, 0, 0)
	return append(binary.BigEndian.AppendUint16(b, port), 0, 0)
}

// parseGrantKey decodes grantKey.
func parseGrantKey(b []byte) (netip.Addr, byte, uint16, bool) {
	n := len(b) - 8
	if n != 4 && n != 16 {
		return netip.Addr{}, 0, 0, false
	}
	addr, _ := netip.AddrFromSlice(b[:n])
	return addr, b[n], binary.BigEndian.Uint16(b[n+4 : n+6]), true
}

// familyName is nft's name of a table family.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprint(f)
}
