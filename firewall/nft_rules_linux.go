package firewall

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/otpknock/otpknock/derive"
	"golang.org/x/sys/unix"
)

// nftChain is one base chain of the table with its rules.
type nftChain struct {
	name  string
	hook  *nftables.ChainHook
	prio  nftables.ChainPriority
	rules [][]expr.Any
}

// nftSets are the grant sets: (address, protocol, port) with timeouts,
// then the filter's sets when the plan filters.
func nftSets(t *nftables.Table, p Plan) []*nftables.Set {
	// Fixed IDs (they name a set within one transaction) instead of
	// google/nftables' process-wide counter: the same plan, the same bytes.
	mk := func(id uint32, name string, addr nftables.SetDatatype) *nftables.Set {
		return &nftables.Set{Table: t, ID: id, Name: name, HasTimeout: true, Concatenation: true,
			KeyType: nftables.MustConcatSetType(addr, nftables.TypeInetProto, nftables.TypeInetService)}
	}
	out := []*nftables.Set{mk(1, NFTSet4, nftables.TypeIPAddr), mk(2, NFTSet6, nftables.TypeIP6Addr)}
	if p.Filter {
		out = append(out, nftFilterSets(t)...)
	}
	if p.Prefixes {
		n4, n6 := mk(6, NFTNet4, nftables.TypeIPAddr), mk(7, NFTNet6, nftables.TypeIP6Addr)
		n4.Interval, n6.Interval = true, true
		out = append(out, n4, n6)
	}
	return out
}

// nftTable is otpknock's table.
func nftTable() *nftables.Table {
	return &nftables.Table{Name: NFTTable, Family: nftables.TableFamilyINet}
}

// nftChains returns the chains the plan installs: input, and
// prerouting when services are DNATed.
func nftChains(p Plan) []nftChain {
	out := []nftChain{{name: NFTInput, hook: nftables.ChainHookInput, prio: NFTPriority, rules: nftInputRules(p)}}
	if len(p.Forward) > 0 {
		out = append(out, nftChain{name: NFTPrerouting, hook: nftables.ChainHookPrerouting, prio: NFTPrePriority, rules: nftPreroutingRules(p)})
	}
	return out
}

// nftInputRules mirrors the iptables chain. In a base chain accept ends
// only this chain (the host's chains still see the packet), so the
// established sessions of the protected ports and the host's own replies
// need one rule: both go on to the host's chains.
func nftInputRules(p Plan) [][]expr.Any {
	both := []bool{false, true}
	// Echo requests come before conntrack: an echo request is never a
	// reply, and one whose identifier matches an earlier ping the host
	// answered is established to conntrack.
	var r [][]expr.Any
	if p.Protocols.Has(derive.ICMP) {
		for _, v6 := range both {
			knock := join(echoRequest(v6), echoSequence(p.PortMin, p.PortMax))
			r = append(r, p.nftLogRules(knock, sequenceOffset, []bool{v6})...)
			if p.DropEcho {
				knock = echoRequest(v6)
			}
			r = append(r, join(knock, verdict(expr.VerdictDrop)))
		}
	}
	r = append(r, join(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept)))
	r = append(r, p.grantAccepts()...)
	var drops [][]expr.Any
	if p.Protocols.Has(derive.TCP) {
		r = append(r, p.nftLogRules(join(l4proto(unix.IPPROTO_TCP), tcpSYN(), dport(p.PortMin, p.PortMax)), portOffset, both)...)
		drops = append(drops, join(l4proto(unix.IPPROTO_TCP), dport(p.PortMin, p.PortMax), verdict(expr.VerdictDrop)))
	}
	if p.Protocols.Has(derive.UDP) {
		r = append(r, p.nftLogRules(join(l4proto(unix.IPPROTO_UDP), dport(p.PortMin, p.PortMax)), portOffset, both)...)
		drops = append(drops, join(l4proto(unix.IPPROTO_UDP), dport(p.PortMin, p.PortMax), verdict(expr.VerdictDrop)))
	}
	r = append(r, drops...)
	for _, k := range p.Protected {
		r = append(r, join(l4proto(protoNum(k.Proto)), dport(k.Port, k.Port), verdict(expr.VerdictDrop)))
	}
	return r
}

// nftPreroutingRules guard the DNATed services before DNAT: packets to
// a published port of this host's addresses pass only from granted
// sources (accept ends this chain only: the host's chains still judge).
func nftPreroutingRules(p Plan) [][]expr.Any {
	r := [][]expr.Any{join(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept))}
	r = append(r, p.grantAccepts()...)
	for _, k := range p.Forward {
		r = append(r, join(fibLocal(), l4proto(protoNum(k.Proto)), dport(k.Port, k.Port), verdict(expr.VerdictDrop)))
	}
	return r
}

// fibLocal matches packets addressed to one of this host's addresses.
func fibLocal() []expr.Any {
	return []expr.Any{&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)}}
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// protoNum is the IP protocol number of a service's protocol, from the
// protocol table (a service's protocol has one for both families).
func protoNum(p derive.Proto) byte {
	r, _ := p.Info()
	return r.IP4
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func l4proto(p byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

func nfproto(v6 bool) []expr.Any {
	fam := byte(unix.NFPROTO_IPV4)
	if v6 {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam}}}
}

// ctState matches any of the conntrack state bits (host byte order).
func ctState(bits uint32) []expr.Any { return ctBits(expr.CtKeySTATE, bits) }

func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{&expr.Ct{Key: key, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)}}
}

// tcpSYN is iptables' --syn: SYN set, FIN, RST and ACK clear.
func tcpSYN() []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x17}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}}}
}

func dport(lo, hi uint16) []expr.Any {
	load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
	if lo == hi {
		return []expr.Any{load, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(lo)}}
	}
	return []expr.Any{load, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(lo), ToData: be16(hi)}}
}

// echoRequest matches an echo request of the family, by the protocol
// and type the protocol table gives.
func echoRequest(v6 bool) []expr.Any {
	r, _ := derive.ICMP.Info()
	return append(l4proto(r.IP(v6)),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.Echo(v6)}})
}

// echoSequence matches an echo request whose sequence number lies in
// lo..hi: a knock candidate. Other echo requests go on to the host's
// chains (or to the drop of every echo request, Plan.DropEcho).
func echoSequence(lo, hi uint16) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: sequenceOffset, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(lo), ToData: be16(hi)}}
}

// grantAccepts accept the granted sources per family: the address
// grant sets, then the prefix grant sets with Plan.Prefixes.
func (p Plan) grantAccepts() [][]expr.Any {
	r := [][]expr.Any{
		join(nfproto(false), grantLookup(false, NFTSet4), verdict(expr.VerdictAccept)),
		join(nfproto(true), grantLookup(true, NFTSet6), verdict(expr.VerdictAccept)),
	}
	if p.Prefixes {
		r = append(r,
			join(nfproto(false), grantLookup(false, NFTNet4), verdict(expr.VerdictAccept)),
			join(nfproto(true), grantLookup(true, NFTNet6), verdict(expr.VerdictAccept)))
	}
	return r
}

// grantLookup matches saddr . l4proto . dport in set, a grant set of
// the family. Each field of the concatenation fills whole 32-bit
// registers from NFT_REG32_00 (register 8, the same bytes as register
// 1) on.
func grantLookup(v6 bool, set string) []expr.Any {
	off, n := uint32(12), uint32(4)
	if v6 {
		off, n = 8, 16
	}
	protoReg := 8 + n/4
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: protoReg},
		&expr.Payload{DestRegister: protoReg + 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set},
	}
}

func nftLog(group uint16) []expr.Any {
	return []expr.Any{&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_SNAPLEN, Group: group, Snaplen: CopyRange}}
}

// nftComment is the userdata of every rule: the digest of the table.
func nftComment(p Plan) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, "otpknock:"+p.NFTDigest())
}

// ruleComment returns a rule's comment, "" when it has none.
func ruleComment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

// NFTDigest identifies the nftables table of the plan: it changes when
// any chain, set or rule would.
func (p Plan) NFTDigest() string {
	h := sha256.New()
	for _, c := range nftChains(p) {
		fmt.Fprintf(h, "chain %s hook %d priority %d\n", c.name, *c.hook, c.prio)
		for _, r := range c.rules {
			fmt.Fprintln(h, renderExprs(r))
		}
	}
	for _, s := range nftSets(nftTable(), p) {
		fmt.Fprintln(h, renderSet(s))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// RenderNFT returns the table the nftables backend installs in nft's
// syntax, for --dry-run.
func (p Plan) RenderNFT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", NFTTable)
	for _, s := range nftSets(nftTable(), p) {
		fmt.Fprintf(&b, "\t%s\n", renderSet(s))
	}
	for _, c := range nftChains(p) {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority %s; policy accept;\n", c.name, c.name, prioName(c.prio))
		for _, r := range c.rules {
			fmt.Fprintf(&b, "\t\t%s comment \"otpknock:%s\"\n", renderExprs(r), p.NFTDigest())
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// prioName writes a priority as nft does: relative to filter or dstnat.
func prioName(p nftables.ChainPriority) string {
	if p < -50 {
		return fmt.Sprintf("dstnat - %d", -100-p)
	}
	return fmt.Sprintf("filter - %d", -p)
}
