package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Kernel is the Backend of the running system: iptables and ip6tables
// (the tables seam, coreos/go-iptables) and ipset over netlink (the sets
// seam, vishvananda/netlink).
type Kernel struct {
	fams [2]family
	sets sets

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

// NewKernel finds iptables and ip6tables and opens a netfilter netlink
// socket for the sets.
func NewKernel() (*Kernel, error) {
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
	return newKernel(v4, v6, s), nil
}

// newKernel returns a Kernel over the given seams.
func newKernel(v4, v6 tables, s sets) *Kernel {
	return &Kernel{fams: [2]family{{v4, false, Set4}, {v6, true, Set6}}, sets: s, snap: map[string][]string{}}
}

// Setup installs sets, chain rules and the jump, idempotently: nothing
// changes when they are as planned. A missing jump goes first in INPUT.
func (k *Kernel) Setup(p Plan) error {
	for _, f := range k.fams {
		if err := k.createSet(f.set, "hash:ip,port", f.v6, p.Timeout); err != nil {
			return err
		}
		if err := k.syncChain(f, Chain, p.Rules(f.v6)); err != nil {
			return fmt.Errorf("%s: %w", ipt(f.v6), err)
		}
		if err := ensureJump(f.t, "INPUT", Chain); err != nil {
			return fmt.Errorf("%s: jumping to %s from INPUT: %w", ipt(f.v6), Chain, err)
		}
		if err := k.setupForward(f, p); err != nil {
			return fmt.Errorf("%s: the forward path: %w", ipt(f.v6), err)
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

func (k *Kernel) createSet(name, typ string, v6 bool, timeout time.Duration) error {
	if err := k.sets.Create(name, typ, v6, timeout); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// syncChain makes the chain hold exactly want. When it already does
// nothing changes; otherwise the new rules are inserted in front and the
// old ones deleted after them, so the chain never passes through an open
// state. The listing it leaves is remembered for Verify.
func (k *Kernel) syncChain(f family, chain string, want [][]string) error {
	exists, err := f.t.ChainExists(Table, chain)
	if err != nil {
		return err
	}
	if !exists {
		if err := f.t.NewChain(Table, chain); err != nil {
			return err
		}
	}
	cur, err := listRules(f.t, chain)
	if err != nil {
		return err
	}
	ok, err := k.intact(f, chain, cur, want)
	if err != nil || ok {
		return err
	}
	for i, r := range want {
		if err := f.t.Insert(Table, chain, i+1, r...); err != nil {
			return fmt.Errorf("inserting %q: %w", strings.Join(r, " "), err)
		}
	}
	for range cur {
		if err := f.t.DeleteById(Table, chain, len(want)+1); err != nil {
			return fmt.Errorf("deleting an old rule: %w", err)
		}
	}
	cur, err = listRules(f.t, chain)
	if err != nil {
		return err
	}
	k.remember(f, chain, cur)
	return nil
}

// intact reports whether the listing cur holds exactly want: the
// listing this Kernel left (cheap), else the same count, every rule
// tagged with the digest and each one present (iptables -C). It
// remembers an intact listing.
func (k *Kernel) intact(f family, chain string, cur []string, want [][]string) (bool, error) {
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

func (k *Kernel) remember(f family, chain string, listing []string) {
	k.mu.Lock()
	k.snap[ipt(f.v6)+" "+chain] = listing
	k.mu.Unlock()
}

func (k *Kernel) forget() {
	k.mu.Lock()
	clear(k.snap)
	k.mu.Unlock()
}

// listRules lists the chain's rules ("-A CHAIN ...").
func listRules(t tables, chain string) ([]string, error) {
	all, err := t.List(Table, chain)
	if err != nil {
		return nil, err
	}
	return onlyRules(all), nil
}

// onlyRules keeps the "-A" lines of a listing.
func onlyRules(all []string) []string {
	var out []string
	for _, r := range all {
		if strings.HasPrefix(r, "-A ") {
			out = append(out, r)
		}
	}
	return out
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

// ensureJump inserts a jump from from to chain as from's first rule
// when from has none. A jump that rules inserted later precede stays
// where it is: those are the administrator's (a fail2ban ban, a
// blocklist, a deliberate DROP), and moving otpknock's accepts in front
// of them would override them.
func ensureJump(t tables, from, chain string) error {
	rules, err := listRules(t, from)
	if err != nil || len(jumpsTo(rules, chain)) > 0 {
		return err
	}
	return t.Insert(Table, from, 1, jumpRule(chain)...)
}

// removeJumps deletes every rule of from that jumps to chain.
func removeJumps(t tables, from, chain string) error {
	rules, err := listRules(t, from)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, pos := range slices.Backward(jumpsTo(rules, chain)) {
		if err := t.DeleteById(Table, from, pos); err != nil {
			return err
		}
	}
	return nil
}

// Grant adds (or refreshes) src,svc in the family's set with a timeout,
// and src in svc's forward set when svc is forwarded.
func (k *Kernel) Grant(src netip.Addr, svc derive.Knock, timeout time.Duration) error {
	src = src.Unmap()
	if err := k.sets.Add(Set(src), setEntry{Addr: src, Svc: svc, Timeout: timeout}); err != nil {
		return err
	}
	return k.grantForward(src, svc, timeout)
}

// Close deletes the NFLOG rules only: fail closed.
func (k *Kernel) Close(p Plan) error {
	k.forget()
	var errs []error
	for _, f := range k.fams {
		for _, r := range p.Rules(f.v6) {
			if IsNFLOG(r) {
				if err := f.t.DeleteIfExists(Table, Chain, r...); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Remove deletes the jumps, the chains and the sets; it succeeds on a
// clean firewall.
func (k *Kernel) Remove(Plan) error {
	k.forget()
	var errs []error
	for _, f := range k.fams {
		if err := removeJumps(f.t, "INPUT", Chain); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
		}
		if err := f.t.ClearAndDeleteChain(Table, Chain); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
		}
		if err := k.sets.Destroy(f.set); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := k.removeForward(f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
		}
	}
	return errors.Join(errs...)
}

// Status lists the chain's rules and the sets' entries.
func (k *Kernel) Status(Plan) (Status, error) {
	var st Status
	for _, f := range k.fams {
		rules, err := listRules(f.t, Chain)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return st, err
		}
		st.Installed = true
		if f.v6 {
			st.Rules6 = rules
		} else {
			st.Rules4 = rules
		}
		es, err := k.sets.List(f.set)
		if err != nil {
			continue
		}
		for _, e := range es {
			st.Grants = append(st.Grants, GrantInfo{Src: e.Addr, Svc: e.Svc, Left: e.Timeout})
		}
	}
	return st, nil
}
