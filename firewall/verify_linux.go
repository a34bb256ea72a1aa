package firewall

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Verify lists what of p is missing or differs in the kernel, per
// family: the set (and the prefix set with Plan.Prefixes), the chain,
// its rules and the jump from INPUT (where it is: see addJump); for
// Plan.Forward, the forward sets (address and, with Plan.Prefixes,
// prefix sets), chain, rules and jump; with Plan.Filter, the filter's
// source sets and their hash size ("ipset: set otpknock-src6: hash size
// 1024, want 32768"). It reads
// one listing of the filter table per family (one iptables run) and
// the sets over netlink. The rules are compared with the listing the
// last Setup left, else (an IPTables that installed nothing) by count,
// digest and iptables -C of each.
func (k *IPTables) Verify(p Plan) ([]string, error) {
	var out []string
	for _, f := range k.fams {
		miss, err := k.verifyFamily(f, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ipt(f.v6), err)
		}
		for _, m := range miss {
			out = append(out, ipt(f.v6)+": "+m)
		}
	}
	miss, err := k.filter.Check(p)
	if err != nil {
		return nil, err
	}
	for _, m := range miss {
		out = append(out, "ipset: "+m)
	}
	return out, nil
}

func (k *IPTables) verifyFamily(f family, p Plan) ([]string, error) {
	var out []string
	sets := []string{f.set}
	if p.Prefixes {
		sets = append(sets, netSet(f.v6))
	}
	sets = append(sets, p.forwardSets(f.v6)...)
	for _, s := range sets {
		if _, err := k.sets.List(s); errors.Is(err, os.ErrNotExist) {
			out = append(out, "set "+s)
		} else if err != nil {
			return nil, err
		}
	}
	tbl, err := readTable(f.t)
	if err != nil {
		return nil, err
	}
	miss, err := k.verifyChain(f, tbl, Chain, p.Rules(f.v6), "INPUT")
	if err != nil {
		return nil, err
	}
	out = append(out, miss...)
	if len(p.Forward) > 0 {
		from := "FORWARD"
		if _, ok := tbl[dockerUser]; ok {
			from = dockerUser
		}
		miss, err := k.verifyChain(f, tbl, ForwardChain, p.ForwardRules(f.v6), from)
		if err != nil {
			return nil, err
		}
		out = append(out, miss...)
	}
	return out, nil
}

// verifyChain reports a missing chain, rules that differ from want, and
// a missing jump from from.
func (k *IPTables) verifyChain(f family, tbl map[string][]string, chain string, want [][]string, from string) ([]string, error) {
	cur, ok := tbl[chain]
	if !ok {
		return []string{"chain " + chain}, nil
	}
	var out []string
	if len(jumpsTo(tbl[from], chain)) == 0 {
		out = append(out, "jump from "+from)
	}
	if len(cur) != len(want) {
		return append(out, fmt.Sprintf("rules of %s: %d, want %d", chain, len(cur), len(want))), nil
	}
	k.mu.Lock()
	snap, ok := k.snap[ipt(f.v6)+" "+chain]
	k.mu.Unlock()
	if ok {
		for i := range cur {
			if cur[i] != snap[i] {
				return append(out, fmt.Sprintf("rule %d of %s: %s", i+1, chain, cur[i])), nil
			}
		}
		return out, nil
	}
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
