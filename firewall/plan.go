package firewall

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Names of the kernel objects.
const (
	Chain = "OTPKNOCK"
	Set4  = "otpknock4"
	Set6  = "otpknock6"
	// Net4 and Net6 are the iptables backend's prefix grant sets
	// (hash:net,port), with Plan.Prefixes.
	Net4  = "otpknocknet4"
	Net6  = "otpknocknet6"
	Table = "filter"
)

// CopyRange is the bytes of each knock packet the NFLOG rules copy to
// the daemon (--nflog-size): IP and transport headers with room for
// IPv4 options or IPv6 extension headers, and a packet knock's largest
// payload (derive.MaxPayload). The listener asks for as much
// (listener.CopyRange); the kernel copies the smaller of the two.
const CopyRange = 384

// Plan is the firewall the daemon needs; the daemon derives it from its
// config (daemon.FirewallPlan).
type Plan struct {
	Group     uint16
	PortMin   uint16
	PortMax   uint16
	Protocols derive.Protocols
	Protected []derive.Knock // services of all users, sorted, unique
	Timeout   time.Duration  // open_timeout: the sets' default entry timeout
	// Forward lists protected services that are DNATed to a container
	// (config: per service forward: true); they are guarded on the
	// forward path with the same grants.
	Forward []derive.Knock
	// Filter makes the TCP and UDP NFLOG rules log only armed elements
	// and tracked sources (see Filter); the daemon clears it for a
	// backend without one.
	Filter bool
	// DropEcho drops every echo request (config icmp_echo: drop) when
	// icmp is a knock protocol; without it only the knock candidates
	// (sequence number in PortMin..PortMax) are dropped and other echo
	// requests go on to the host's own rules.
	DropEcho bool
	// Track is how long a packet to an armed element tracks its source
	// in the kernel itself, before the daemon hears of it (the sequence
	// timeout): its next knocks never race the daemon's Track.
	Track time.Duration
	// Prefixes installs the sets of prefix grants beside those of
	// address grants (a user's grant_prefix): Grant of a prefix wider
	// than one address needs them.
	Prefixes bool
}

// Lock returns the same plan with no knock rules (Protocols = 0): only
// the static drop of the protected ports and the accepts of established
// sessions and granted sources. It needs no secret and no state, so it
// can close the ports before the daemon starts (otpknock firewall lock).
func (p Plan) Lock() Plan {
	p.Protocols = 0
	return p
}

// netSet is the prefix grant set of the family.
func netSet(v6 bool) string {
	if v6 {
		return Net6
	}
	return Net4
}

// Set returns the set of addr's family.
func Set(addr netip.Addr) string {
	if addr.Unmap().Is4() {
		return Set4
	}
	return Set6
}

// Rules returns the chain's rules for IPv4 or IPv6, in order, each with
// the digest comment of the whole rule set.
func (p Plan) Rules(v6 bool) [][]string {
	rules := p.rules(v6)
	tag := []string{"-m", "comment", "--comment", "otpknock:" + p.Digest()}
	for i := range rules {
		rules[i] = append(rules[i], tag...)
	}
	return rules
}

func (p Plan) rules(v6 bool) [][]string {
	set, icmp := Set4, []string{"-p", "icmp", "--icmp-type", "echo-request"}
	if v6 {
		set, icmp = Set6, []string{"-p", "ipv6-icmp", "--icmpv6-type", "echo-request"}
	}
	rng := strconv.Itoa(int(p.PortMin)) + ":" + strconv.Itoa(int(p.PortMax))
	nflog := []string{"-j", "NFLOG", "--nflog-group", strconv.Itoa(int(p.Group)), "--nflog-size", strconv.Itoa(CopyRange)}
	var r [][]string
	for _, ports := range p.protectedPorts() {
		r = append(r, []string{"-p", ports[0], "-m", "multiport", "--dports", ports[1], "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"})
	}
	// Echo requests come before conntrack: an echo request is never a
	// reply, and one whose identifier matches an earlier ping the host
	// answered is ESTABLISHED to conntrack.
	if p.Protocols.Has(derive.ICMP) {
		knock := append(slices.Clone(icmp), "-m", "u32", "--u32", echoU32(v6, p.PortMin, p.PortMax))
		r = append(r, append(slices.Clone(knock), nflog...))
		if p.DropEcho {
			knock = icmp
		}
		r = append(r, append(slices.Clone(knock), "-j", "DROP"))
	}
	// Replies to the host's own connections (their ephemeral ports may lie
	// in the knock range) go on to INPUT's other rules.
	r = append(r, []string{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"})
	r = append(r, []string{"-m", "set", "--match-set", set, "src,dst", "-j", "ACCEPT"})
	if p.Prefixes {
		r = append(r, []string{"-m", "set", "--match-set", netSet(v6), "src,dst", "-j", "ACCEPT"})
	}
	var drops [][]string
	if p.Protocols.Has(derive.TCP) {
		r = append(r, p.logRules(derive.TCP, v6, []string{"-p", "tcp", "--syn", "--dport", rng}, nflog)...)
		drops = append(drops, []string{"-p", "tcp", "--dport", rng, "-j", "DROP"})
	}
	if p.Protocols.Has(derive.UDP) {
		r = append(r, p.logRules(derive.UDP, v6, []string{"-p", "udp", "--dport", rng}, nflog)...)
		drops = append(drops, []string{"-p", "udp", "--dport", rng, "-j", "DROP"})
	}
	r = append(r, drops...)
	for _, ports := range p.protectedPorts() {
		r = append(r, []string{"-p", ports[0], "-m", "multiport", "--dports", ports[1], "-j", "DROP"})
	}
	return r
}

// echoU32 is the u32 match of an echo request whose sequence
// number lies in lo..hi, a knock candidate: the ICMP header follows the
// IPv4 header (its length from IHL) or, for IPv6, the fixed header (an
// echo request behind extension headers is no candidate and goes on to
// the host's rules). Other echo requests return to INPUT's other rules
// (or meet the drop of every echo request, Plan.DropEcho).
func echoU32(v6 bool, lo, hi uint16) string {
	at := "0>>22&0x3C@4"
	if v6 {
		at = "44"
	}
	return fmt.Sprintf("%s&0xFFFF=%d:%d", at, lo, hi)
}

// protectedPorts groups the protected ports by protocol, at most 15 per
// multiport match: pairs of (protocol, "p1,p2,...").
func (p Plan) protectedPorts() [][2]string {
	var out [][2]string
	for _, r := range derive.ProtoTable() {
		proto := r.Proto
		if !r.Service() {
			continue
		}
		var ports []string
		for _, k := range p.Protected {
			if k.Proto == proto {
				ports = append(ports, strconv.Itoa(int(k.Port)))
			}
		}
		for len(ports) > 0 {
			n := min(15, len(ports))
			out = append(out, [2]string{proto.String(), strings.Join(ports[:n], ",")})
			ports = ports[n:]
		}
	}
	return out
}

// IsNFLOG reports whether a rule is one of the NFLOG rules.
func IsNFLOG(rule []string) bool { return slices.Contains(rule, "NFLOG") }

// Digest identifies the rule set: it changes when any rule would.
func (p Plan) Digest() string {
	h := sha256.New()
	for _, v6 := range []bool{false, true} {
		for _, r := range p.rules(v6) {
			fmt.Fprintln(h, strings.Join(r, " "))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// jumpRule is the rule that sends traffic to chain.
func jumpRule(chain string) []string {
	return []string{"-j", chain, "-m", "comment", "--comment", "otpknock"}
}

// Render returns the commands equivalent to Setup, for --dry-run.
func (p Plan) Render() string {
	var b strings.Builder
	secs := strconv.Itoa(int(p.Timeout.Seconds()))
	fmt.Fprintf(&b, "ipset create %s hash:ip,port family inet timeout %s -exist\n", Set4, secs)
	fmt.Fprintf(&b, "ipset create %s hash:ip,port family inet6 timeout %s -exist\n", Set6, secs)
	if p.Prefixes {
		fmt.Fprintf(&b, "ipset create %s hash:net,port family inet timeout %s -exist\n", Net4, secs)
		fmt.Fprintf(&b, "ipset create %s hash:net,port family inet6 timeout %s -exist\n", Net6, secs)
	}
	p.renderFilter(&b)
	for _, fam := range []struct {
		cmd string
		v6  bool
	}{{"iptables", false}, {"ip6tables", true}} {
		fmt.Fprintf(&b, "%s -t %s -N %s\n", fam.cmd, Table, Chain)
		for _, r := range p.Rules(fam.v6) {
			fmt.Fprintf(&b, "%s -t %s -A %s %s\n", fam.cmd, Table, Chain, quote(r))
		}
		fmt.Fprintf(&b, "%s -t %s -I INPUT 1 %s\n", fam.cmd, Table, quote(jumpRule(Chain)))
	}
	p.renderForward(&b)
	return b.String()
}

func quote(r []string) string {
	out := make([]string, len(r))
	for i, s := range r {
		out[i] = s
		if strings.ContainsAny(s, " :") && strings.HasPrefix(s, "otpknock") || strings.ContainsAny(s, "&>") {
			out[i] = strconv.Quote(s)
		}
	}
	return strings.Join(out, " ")
}
