package firewall

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"time"

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

// destroyForwardSets deletes the family's forward sets.
func (k *IPTables) destroyForwardSets(f family) error {
	names, err := k.sets.Names()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if strings.HasPrefix(n, f.set+"-") {
			if err := k.sets.Destroy(n); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
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

// grantForward adds src to svc's forward set when svc is forwarded.
func (k *IPTables) grantForward(src netip.Addr, svc derive.Knock, timeout time.Duration) error {
	if !k.forwarded(svc) {
		return nil
	}
	return k.sets.Add(ForwardSet(src.Is6(), svc), setEntry{Addr: src, Timeout: timeout})
}
