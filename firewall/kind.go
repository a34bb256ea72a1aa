package firewall

import (
	"fmt"
	"strings"
)

// Kind is what sets one backend apart, for the commands that administer
// the firewall: they hold a Kind (or a Backend's) and never name a
// backend themselves. Kinds is the table of them.
type Kind interface {
	// Name is the config's firewall value that picks the backend
	// (ModeNFTables, ModeIPTables).
	Name() string
	// Open opens the backend on the running system.
	Open() (Backend, error)
	// Probe checks that the backend's kernel interfaces answer, changing
	// nothing: found says in a line each what answered, err why the next
	// did not.
	Probe() (found []string, err error)
	// Render is what Setup would install for p, as the backend's own
	// commands (server --dry-run).
	Render(p Plan) string
	// StatusText renders st, as Status read it for p: whether the rules
	// are p's, its lock's or another's, whether they log knocks, the
	// rules and the sets' line (firewall status).
	StatusText(st Status, p Plan) string
	// Where names where the backend keeps its rules ("chain OTPKNOCK").
	Where() string
	// Removed says in one line what Remove deleted.
	Removed() string
}

// Kinds is the table of backends, nftables first.
func Kinds() []Kind { return []Kind{nftKind{}, iptablesKind{}} }

// KindOf returns the Kind of Kinds named name; nil when there is none.
func KindOf(name string) Kind {
	for _, k := range Kinds() {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// Pick returns the Kind that Choose picks for mode on h, and why.
func Pick(mode string, h Host) (Kind, string) {
	name, why := Choose(mode, h)
	return KindOf(name), why
}

// Open opens the backend the config's firewall key names (auto: the one
// Choose picks for this host) and says which and why, in one line.
func Open(mode string) (Backend, string, error) {
	kind, why := Pick(mode, HostNow())
	why = kind.Name() + " (" + why + ")"
	b, err := kind.Open()
	return b, why, err
}

// locked is the state of a firewall that otpknockd firewall lock installed.
const locked = "locked (otpknockd firewall lock: the protected ports closed, the server not started)"

// ruleState says of installed rules whether they are the config's, its
// lock's or another's (by the digests in their comments), and whether
// they log knocks (a rule holds logMark).
func ruleState(rules []string, logMark string, p Plan, lockDigest, digest string) (current, nflog string) {
	all := strings.Join(rules, "\n")
	nflog = "off: no server is reading knocks, protected ports stay closed"
	if strings.Contains(all, logMark) {
		nflog = "on"
	}
	switch {
	case noConfig(p):
		return "not compared with a config (none loaded)", nflog
	case strings.Contains(all, lockDigest):
		return locked, nflog
	case !strings.Contains(all, digest):
		return "differs from the config (the server updates it at start or reload)", nflog
	}
	return "current", nflog
}

// noConfig reports whether p is the zero Plan, which a command passes
// when the config did not load (firewall status|remove work without
// one): no NFLOG group, no knock range.
func noConfig(p Plan) bool { return p.Group == 0 && p.PortMax == 0 && len(p.Protected) == 0 }

// count says n things, singular for one: "1 grant", "2 grants".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// iptablesKind is the Kind of IPTables.
type iptablesKind struct{}

func (iptablesKind) Name() string         { return ModeIPTables }
func (iptablesKind) Render(p Plan) string { return p.Render() }
func (iptablesKind) Where() string        { return "chain " + Chain }

func (iptablesKind) Open() (Backend, error) {
	k, err := NewIPTables()
	if err != nil {
		return nil, err // a nil *IPTables must not become a non-nil Backend
	}
	return k, nil
}

func (iptablesKind) Probe() ([]string, error) {
	k, err := NewIPTables()
	if err != nil {
		return nil, err
	}
	found := []string{"iptables and ip6tables found"}
	n, installed, err := k.Probe()
	if err != nil {
		return found, err
	}
	return append(found, fmt.Sprintf("ipset over netlink: %s, otpknock's installed: %v", count(n, "set", "sets"), installed)), nil
}

func (iptablesKind) Removed() string {
	return fmt.Sprintf("Removed the %s and %s chains, their jumps and otpknock's sets (grants, prefixes, forwarded services and the pre-filter's).", Chain, ForwardChain)
}

func (iptablesKind) StatusText(st Status, p Plan) string {
	var b strings.Builder
	if !st.Installed {
		fmt.Fprintf(&b, "Not installed: no %s chain (otpknockd server installs it).\n", Chain)
		return b.String()
	}
	current, nflog := ruleState(st.Rules4, "NFLOG", p, p.Lock().Digest(), p.Digest())
	fmt.Fprintf(&b, "Chain %s: %d IPv4 and %s, %s; knock logging %s.\n", Chain, len(st.Rules4), count(len(st.Rules6), "IPv6 rule", "IPv6 rules"), current, nflog)
	for _, r := range st.Rules4 {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	if len(st.Forward4)+len(st.Forward6) > 0 {
		fmt.Fprintf(&b, "Chain %s (services forwarded to containers): %d IPv4 and %s.\n", ForwardChain, len(st.Forward4), count(len(st.Forward6), "IPv6 rule", "IPv6 rules"))
		for _, r := range st.Forward4 {
			fmt.Fprintf(&b, "  %s\n", r)
		}
		if len(p.Forward) > 0 {
			fmt.Fprintf(&b, "Sets of the forwarded services: %s.\n", strings.Join(append(p.forwardSets(false), p.forwardSets(true)...), ", "))
		}
	}
	fmt.Fprintf(&b, "Sets %s: %s.\n", grantSetNames(p, Set4, Set6, Net4, Net6), count(len(st.Grants), "grant", "grants"))
	return b.String()
}

// nftKind is the Kind of NFT.
type nftKind struct{}

func (nftKind) Name() string         { return ModeNFTables }
func (nftKind) Render(p Plan) string { return p.RenderNFT() }
func (nftKind) Where() string        { return "table inet " + NFTTable }

func (nftKind) Open() (Backend, error) {
	n, err := NewNFT()
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (nftKind) Probe() ([]string, error) {
	n, err := NewNFT()
	if err != nil {
		return nil, err
	}
	tables, installed, err := n.Probe()
	if err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("nftables over netlink, %s, otpknock's installed: %v", count(tables, "table", "tables"), installed)}, nil
}

func (nftKind) Removed() string {
	return fmt.Sprintf("Removed table inet %s with its chains and sets (grants and the pre-filter's).", NFTTable)
}

func (nftKind) StatusText(st Status, p Plan) string {
	var b strings.Builder
	if !st.Installed {
		fmt.Fprintf(&b, "Not installed: no table inet %s (otpknockd server installs it).\n", NFTTable)
		return b.String()
	}
	current, nflog := ruleState(st.Rules4, " log group ", p, p.Lock().NFTDigest(), p.NFTDigest())
	fmt.Fprintf(&b, "Table inet %s: %s for IPv4 and IPv6, %s; knock logging %s.\n", NFTTable, count(len(st.Rules4), "rule", "rules"), current, nflog)
	for _, r := range st.Rules4 {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	fmt.Fprintf(&b, "Sets %s: %s.\n", grantSetNames(p, NFTSet4, NFTSet6, NFTNet4, NFTNet6), count(len(st.Grants), "grant", "grants"))
	return b.String()
}

// grantSetNames lists the grant sets of p: the address sets, and the
// prefix sets with Plan.Prefixes.
func grantSetNames(p Plan, names ...string) string {
	if !p.Prefixes {
		names = names[:2]
	}
	return strings.Join(names, ", ")
}
