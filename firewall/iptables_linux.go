package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// IPTables is the Backend of the running system: iptables and ip6tables
// (the tables seam: listings and iptables-restore batches) and ipset
// over netlink (the sets seam, vishvananda/netlink).
type IPTables struct {
	fams   [2]family
	sets   sets
	filter filterSets

	mu      sync.Mutex
	snap    map[string][]string   // "iptables OTPKNOCK" -> the chain's listing after the last Setup
	forward map[derive.Knock]bool // the last Setup's Plan.Forward: Grant adds to their sets too
}

// family is one address family's iptables and grant set.
type family struct {
	t   tables
	v6  bool
	set string
}

// NewIPTables finds iptables and ip6tables and opens a netfilter netlink
// socket for the sets.
func NewIPTables() (*IPTables, error) {
	v4, err := newTables(false)
	if err != nil {
		return nil, err
	}
	v6, err := newTables(true)
	if err != nil {
		return nil, err
	}
	s, err := newNetlinkSets()
	if err != nil {
		return nil, err
	}
	return newIPTables(v4, v6, s, ipsetFilter{}), nil
}

// newIPTables returns an IPTables over the given seams.
func newIPTables(v4, v6 tables, s sets, filter filterSets) *IPTables {
	return &IPTables{fams: [2]family{{v4, false, Set4}, {v6, true, Set6}}, sets: s, filter: filter, snap: map[string][]string{}}
}

// Setup installs sets, chain rules and jumps, idempotently: nothing
// changes when they are as planned. Per family it reads the filter
// table once and applies what differs in one iptables-restore batch,
// atomic: a changed rule set's new rules go in front of the old ones,
// which are deleted after them in the same transaction, so the chain
// never passes through an open state. A missing jump goes first.
func (k *IPTables) Setup(p Plan) error {
	if err := k.filter.Setup(p); err != nil {
		return err
	}
	for _, f := range k.fams {
		if err := k.setupFamily(f, p); err != nil {
			return fmt.Errorf("%s: %w", ipt(f.v6), err)
		}
	}
	fwd := map[derive.Knock]bool{}
	for _, svc := range p.Forward {
		fwd[svc] = true
	}
	k.mu.Lock()
	k.forward = fwd
	k.mu.Unlock()
	return nil
}

func (k *IPTables) setupFamily(f family, p Plan) error {
	if err := k.createSet(f.set, "hash:ip,port", f.v6, p.Timeout); err != nil {
		return err
	}
	if p.Prefixes {
		if err := k.createSet(netSet(f.v6), "hash:net,port", f.v6, p.Timeout); err != nil {
			return err
		}
	}
	for _, svc := range p.Forward {
		if err := k.createSet(ForwardSet(f.v6, svc), "hash:ip", f.v6, p.Timeout); err != nil {
			return err
		}
		if !p.Prefixes {
			continue
		}
		if err := k.createSet(ForwardNetSet(f.v6, svc), "hash:net", f.v6, p.Timeout); err != nil {
			return err
		}
	}
	tbl, err := readTable(f.t)
	if err != nil {
		return err
	}
	var b []string
	if b, err = k.syncChain(b, f, tbl, Chain, p.Rules(f.v6)); err != nil {
		return err
	}
	b = addJump(b, tbl, "INPUT", Chain)
	if b, err = k.syncForward(b, f, tbl, p); err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	if err := f.t.Restore(Table, b); err != nil {
		return err
	}
	if err := k.destroyStaleSets(f, p); err != nil {
		return err
	}
	if tbl, err = readTable(f.t); err != nil {
		return err
	}
	for _, c := range []string{Chain, ForwardChain} {
		if rules, ok := tbl[c]; ok {
			k.remember(f, c, rules)
		}
	}
	return nil
}

func (k *IPTables) createSet(name, typ string, v6 bool, timeout time.Duration) error {
	if err := k.sets.Create(name, typ, v6, timeout); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// readTable lists the filter table and maps each chain to its rules.
func readTable(t tables) (map[string][]string, error) {
	listing, err := t.ListTable(Table)
	if err != nil {
		return nil, err
	}
	return parseTable(listing), nil
}

// parseTable maps each chain of an iptables -S listing of a table to
// its "-A" lines; a chain without rules maps to an empty list.
func parseTable(listing []string) map[string][]string {
	tbl := map[string][]string{}
	for _, l := range listing {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "-P", "-N":
			if _, ok := tbl[f[1]]; !ok {
				tbl[f[1]] = []string{}
			}
		case "-A":
			tbl[f[1]] = append(tbl[f[1]], l)
		}
	}
	return tbl
}

// syncChain appends to the batch b what makes the chain hold exactly
// want: nothing when it already does; else the chain when missing, the
// new rules in front and the deletion of the old ones after them.
func (k *IPTables) syncChain(b []string, f family, tbl map[string][]string, chain string, want [][]string) ([]string, error) {
	cur, exists := tbl[chain]
	if !exists {
		b = append(b, ":"+chain+" - [0:0]")
	} else if ok, err := k.intact(f, chain, cur, want); err != nil || ok {
		return b, err
	}
	for i, r := range want {
		b = append(b, fmt.Sprintf("-I %s %d %s", chain, i+1, strings.Join(r, " ")))
	}
	for range cur {
		b = append(b, fmt.Sprintf("-D %s %d", chain, len(want)+1))
	}
	return b, nil
}

// intact reports whether the listing cur holds exactly want: the
// listing this IPTables left (cheap), else the same count, every rule
// tagged with the digest and each one present (iptables -C). It
// remembers an intact listing.
func (k *IPTables) intact(f family, chain string, cur []string, want [][]string) (bool, error) {
	if len(cur) != len(want) || len(want) == 0 || !allTagged(cur, want[0][len(want[0])-1]) {
		return false, nil
	}
	k.mu.Lock()
	snap, ok := k.snap[ipt(f.v6)+" "+chain]
	k.mu.Unlock()
	if ok && slices.Equal(snap, cur) {
		return true, nil
	}
	for _, r := range want {
		if ok, err := f.t.Exists(Table, chain, r...); err != nil || !ok {
			return false, err
		}
	}
	k.remember(f, chain, cur)
	return true, nil
}

func (k *IPTables) remember(f family, chain string, listing []string) {
	k.mu.Lock()
	k.snap[ipt(f.v6)+" "+chain] = listing
	k.mu.Unlock()
}

func (k *IPTables) forget() {
	k.mu.Lock()
	clear(k.snap)
	k.mu.Unlock()
}

func allTagged(rules []string, tag string) bool {
	for _, r := range rules {
		if !strings.Contains(r, tag) {
			return false
		}
	}
	return true
}

// jumpsTo returns the positions (from 1) of the rules of a listing that
// jump to chain.
func jumpsTo(rules []string, chain string) []int {
	var out []int
	for i, r := range rules {
		f := strings.Fields(r)
		if j := slices.Index(f, "-j"); j >= 0 && j+1 < len(f) && f[j+1] == chain {
			out = append(out, i+1)
		}
	}
	return out
}

// addJump appends to b a jump from from to chain, first in from, when
// from has none. A jump that rules inserted later precede stays where
// it is: those are the administrator's (a fail2ban ban, a blocklist, a
// deliberate DROP), and moving otpknock's accepts in front of them would
// override them.
func addJump(b []string, tbl map[string][]string, from, chain string) []string {
	if len(jumpsTo(tbl[from], chain)) > 0 {
		return b
	}
	return append(b, "-I "+from+" 1 "+strings.Join(jumpRule(chain), " "))
}

// removeJumps appends to b the deletion of every jump from from to
// chain, last first.
func removeJumps(b []string, tbl map[string][]string, from, chain string) []string {
	for _, pos := range slices.Backward(jumpsTo(tbl[from], chain)) {
		b = append(b, "-D "+from+" "+strconv.Itoa(pos))
	}
	return b
}

// removeChain appends to b the deletion of the jumps to chain from the
// given chains, and of the chain, when it exists.
func removeChain(b []string, tbl map[string][]string, chain string, from ...string) []string {
	if _, ok := tbl[chain]; !ok {
		return b
	}
	for _, c := range from {
		b = removeJumps(b, tbl, c, chain)
	}
	return append(b, "-F "+chain, "-X "+chain)
}

// Grant adds (or refreshes) src,svc in the family's set with a timeout,
// and src in svc's forward set when svc is forwarded. A prefix wider
// than one address goes to the family's hash:net,port set (Net4, Net6)
// and, for a forwarded service, to its hash:net forward set
// (ForwardNetSet): sets a plan with Prefixes installs. When the forward
// set refuses the entry, the entry just added to the family's set is
// deleted again (a refreshed grant ends early): a failed grant opens
// nothing.
func (k *IPTables) Grant(src netip.Prefix, svc derive.Knock, timeout time.Duration) error {
	src = netip.PrefixFrom(src.Addr().Unmap(), src.Bits()).Masked()
	addr := src.Addr()
	set, e := Set(addr), setEntry{Addr: addr, Svc: svc, Timeout: timeout}
	if !IsHost(src) {
		set, e.Bits = netSet(addr.Is6()), src.Bits()
	}
	if err := k.sets.Add(set, e); err != nil {
		return err
	}
	fwd := e
	fwd.Svc = derive.Knock{}
	if err := k.grantForward(fwd, svc); err != nil {
		if derr := k.sets.Del(set, e); derr != nil {
			return fmt.Errorf("granting %v %v on the forward path: %w (and withdrawing it from %s: %w)", src, svc, err, set, derr)
		}
		return fmt.Errorf("granting %v %v on the forward path: %w", src, svc, err)
	}
	return nil
}

// Close deletes the NFLOG rules only: fail closed.
func (k *IPTables) Close(p Plan) error {
	k.forget()
	var errs []error
	for _, f := range k.fams {
		tbl, err := readTable(f.t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
			continue
		}
		var b []string
		rules := tbl[Chain]
		for i := len(rules) - 1; i >= 0; i-- {
			if strings.Contains(rules[i], " NFLOG ") {
				b = append(b, fmt.Sprintf("-D %s %d", Chain, i+1))
			}
		}
		if len(b) > 0 {
			if err := f.t.Restore(Table, b); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Remove deletes the jumps, the chains and the sets (the address,
// prefix and forward sets); it succeeds on a clean firewall.
func (k *IPTables) Remove(Plan) error {
	k.forget()
	var errs []error
	for _, f := range k.fams {
		tbl, err := readTable(f.t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
			continue
		}
		b := removeChain(nil, tbl, Chain, "INPUT")
		b = removeChain(b, tbl, ForwardChain, dockerUser, "FORWARD")
		if len(b) > 0 {
			if err := f.t.Restore(Table, b); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
				continue
			}
		}
		if err := k.sets.Destroy(f.set); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := k.destroyStaleSets(f, Plan{}); err != nil { // the prefix and forward sets
			errs = append(errs, err)
		}
	}
	errs = append(errs, k.filter.Remove())
	return errors.Join(errs...)
}

// Status lists the chain's rules and the sets' entries.
func (k *IPTables) Status(Plan) (Status, error) {
	var st Status
	for _, f := range k.fams {
		tbl, err := readTable(f.t)
		if err != nil {
			return st, err
		}
		rules, ok := tbl[Chain]
		if !ok {
			continue
		}
		st.Installed = true
		if f.v6 {
			st.Rules6, st.Forward6 = rules, tbl[ForwardChain]
		} else {
			st.Rules4, st.Forward4 = rules, tbl[ForwardChain]
		}
		for _, set := range []string{f.set, netSet(f.v6)} {
			es, err := k.sets.List(set)
			if err != nil {
				continue
			}
			for _, e := range es {
				g := GrantInfo{Src: e.Addr, Svc: e.Svc, Left: e.Timeout}
				if e.Bits != 0 && e.Bits != e.Addr.BitLen() {
					g.Net = netip.PrefixFrom(e.Addr, e.Bits)
				}
				st.Grants = append(st.Grants, g)
			}
		}
	}
	return st, nil
}

// Kind is the iptables Kind.
func (k *IPTables) Kind() Kind { return iptablesKind{} }
