package firewall

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Verify lists what of p is missing or differs in the kernel, per
// family: the set, the chain, its rules and the jump first in INPUT;
// for Plan.Forward, the forward sets, chain, rules and jump.
// The rules are compared with the listing the last Setup left, else (a
// Kernel that installed nothing) by count, digest and iptables -C of
// each.
func (k *Kernel) Verify(p Plan) ([]string, error) {
	var out []string
	for _, f := range k.fams {
		name := ipt(f.v6) + ": "
		if _, err := k.sets.List(f.set); errors.Is(err, os.ErrNotExist) {
			out = append(out, name+"set "+f.set)
		} else if err != nil {
			return nil, err
		}
		miss, err := k.verifyChain(f, Chain, p.Rules(f.v6))
		if err != nil {
			return nil, fmt.Errorf("%s%w", name, err)
		}
		if !slices.Equal(miss, []string{"chain " + Chain}) { // no chain, no jump
			jm, err := verifyJump(f.t, "INPUT", Chain)
			if err != nil {
				return nil, fmt.Errorf("%s%w", name, err)
			}
			miss = append(miss, jm...)
		}
		fm, err := k.verifyForward(f, p)
		if err != nil {
			return nil, fmt.Errorf("%s%w", name, err)
		}
		for _, m := range append(miss, fm...) {
			out = append(out, name+m)
		}
	}
	return out, nil
}

// verifyChain reports a missing chain or rules that differ from want.
func (k *Kernel) verifyChain(f family, chain string, want [][]string) ([]string, error) {
	cur, err := listRules(f.t, chain)
	if errors.Is(err, os.ErrNotExist) {
		return []string{"chain " + chain}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(cur) != len(want) {
		return []string{fmt.Sprintf("rules of %s: %d, want %d", chain, len(cur), len(want))}, nil
	}
	k.mu.Lock()
	snap, ok := k.snap[ipt(f.v6)+" "+chain]
	k.mu.Unlock()
	if ok {
		for i := range cur {
			if cur[i] != snap[i] {
				return []string{fmt.Sprintf("rule %d of %s: %s", i+1, chain, cur[i])}, nil
			}
		}
		return nil, nil
	}
	var out []string
	for i, r := range want {
		ok, err := f.t.Exists(Table, chain, r...)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, fmt.Sprintf("rule %d of %s: %s", i+1, chain, strings.Join(r, " ")))
		}
	}
	return out, nil
}

// verifyJump reports a jump from from to chain that is missing or not
// the first rule.
func verifyJump(t tables, from, chain string) ([]string, error) {
	rules, err := listRules(t, from)
	if err != nil {
		return nil, err
	}
	switch at := jumpsTo(rules, chain); {
	case len(at) == 0:
		return []string{"jump from " + from}, nil
	case !slices.Equal(at, []int{1}):
		return []string{fmt.Sprintf("jump first in %s (at %v)", from, at)}, nil
	}
	return nil, nil
}
