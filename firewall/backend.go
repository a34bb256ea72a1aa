package firewall

import (
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Backend is the kernel boundary of the server's output.
type Backend interface {
	// Setup installs the sets, the chain and the INPUT jump; it changes
	// nothing when they are already as planned.
	Setup(Plan) error
	// Grant opens svc to the sources of src for timeout (an address
	// is its /32 or /128, HostPrefix); a repeat refreshes the timeout. A
	// wider prefix needs a plan with Prefixes installed. A grant that
	// fails opens nothing.
	Grant(src netip.Prefix, svc derive.Knock, timeout time.Duration) error
	// Close stops logging knocks (the daemon exits): the protected ports
	// stay closed and grants expire on their own.
	Close(Plan) error
	// Remove deletes the chain, the jump and the sets.
	Remove(Plan) error
	// Status lists the installed rules and the live grants.
	Status(Plan) (Status, error)
	// Verify lists what the plan installs that is missing or differs in
	// the kernel (the table or chain, a rule, the jump, a set): nil when
	// intact. The daemon runs it every few seconds and reinstalls with
	// Setup when it reports anything.
	Verify(Plan) ([]string, error)
	// Kind is what sets the backend apart: its name, how it renders a
	// plan and a status, what remove deletes.
	Kind() Kind
}

// Status is what Backend.Status reports.
type Status struct {
	Installed bool
	Rules4    []string
	Rules6    []string
	// Forward4 and Forward6 are the rules of the iptables chain that
	// guards services forwarded to containers (ForwardChain), when there
	// is one; nftables lists its prerouting chain in Rules4.
	Forward4 []string
	Forward6 []string
	Grants   []GrantInfo
}

// GrantInfo is one live grant.
type GrantInfo struct {
	Src  netip.Addr
	Svc  derive.Knock
	Left time.Duration
	// Net is a prefix grant's prefix (Src is its first address); zero
	// for a grant to Src alone.
	Net netip.Prefix
}

// Source is what the grant opens: Net, or Src alone.
func (g GrantInfo) Source() string {
	if g.Net.IsValid() {
		return g.Net.String()
	}
	return g.Src.String()
}

// HostPrefix is the prefix of addr alone: its /32 or /128.
func HostPrefix(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen())
}

// IsHost reports whether p is one address.
func IsHost(p netip.Prefix) bool { return p.Bits() == p.Addr().BitLen() }

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangePrefix is the prefix from first to last: the longest whose
// first and last addresses they are.
func rangePrefix(first, last netip.Addr) netip.Prefix {
	a, b := first.AsSlice(), last.AsSlice()
	bits := 0
	for bits < len(a)*8 && a[bits/8]&(0x80>>(bits%8)) == b[bits/8]&(0x80>>(bits%8)) {
		bits++
	}
	return netip.PrefixFrom(first, bits)
}

// ipt names a family's iptables command.
func ipt(v6 bool) string {
	if v6 {
		return "ip6tables"
	}
	return "iptables"
}
