package firewall

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/otpknock/otpknock/derive"
)

// dockerUser is the chain Docker leaves to the administrator, evaluated
// first in FORWARD.
const dockerUser = "DOCKER-USER"

// syncForward appends to b the forward path of p for one family: the
// chain and its jump from DOCKER-USER where Docker made it, else from
// FORWARD (a jump from FORWARD goes once Docker came); without
// Plan.Forward, the removal of what an earlier plan installed.
func (k *IPTables) syncForward(b []string, f family, tbl map[string][]string, p Plan) ([]string, error) {
	if len(p.Forward) == 0 {
		return removeChain(b, tbl, ForwardChain, dockerUser, "FORWARD"), nil
	}
	b, err := k.syncChain(b, f, tbl, ForwardChain, p.ForwardRules(f.v6))
	if err != nil {
		return nil, err
	}
	if _, ok := tbl[dockerUser]; !ok {
		return addJump(b, tbl, "FORWARD", ForwardChain), nil
	}
	b = addJump(b, tbl, dockerUser, ForwardChain)
	return removeJumps(b, tbl, "FORWARD", ForwardChain), nil
}

// destroyStaleSets deletes the family's sets that p does not name: the
// forward sets of services no longer forwarded, and without
// Plan.Prefixes the prefix sets (Net4 or Net6 and the forward ones), as
// nftables deletes the sets a plan lacks. It runs once the batch that
// installed p's rules left no rule matching them.
func (k *IPTables) destroyStaleSets(f family, p Plan) error {
	names, err := k.sets.Names()
	if err != nil {
		return err
	}
	keep := p.forwardSets(f.v6)
	if p.Prefixes {
		keep = append(keep, netSet(f.v6))
	}
	var errs []error
	for _, n := range names {
		ours := n == netSet(f.v6) || strings.HasPrefix(n, f.set+"-") || strings.HasPrefix(n, netSet(f.v6)+"-")
		if !ours || slices.Contains(keep, n) {
			continue
		}
		if err := k.sets.Destroy(n); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// forwarded reports whether the last Setup forwards svc.
func (k *IPTables) forwarded(svc derive.Knock) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.forward[svc]
}

// grantForward adds e (an address, or a prefix when e.Bits is set) to
// svc's forward set of that kind when svc is forwarded.
func (k *IPTables) grantForward(e setEntry, svc derive.Knock) error {
	if !k.forwarded(svc) {
		return nil
	}
	set := ForwardSet(e.Addr.Is6(), svc)
	if e.Bits != 0 {
		set = ForwardNetSet(e.Addr.Is6(), svc)
	}
	return k.sets.Add(set, e)
}
