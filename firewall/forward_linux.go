package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// dockerUser is the chain Docker leaves to the administrator, evaluated
// first in FORWARD.
const dockerUser = "DOCKER-USER"

// forwardFrom is the chain the forward chain is jumped from:
// DOCKER-USER where Docker made it, else FORWARD.
func forwardFrom(t tables) (string, error) {
	ok, err := t.ChainExists(Table, dockerUser)
	if err != nil {
		return "", err
	}
	if ok {
		return dockerUser, nil
	}
	return "FORWARD", nil
}

// setupForward installs the forward path of p for one family: a set per
// forwarded service, the chain and its jump; without Plan.Forward it
// removes what an earlier plan installed.
func (k *Kernel) setupForward(f family, p Plan) error {
	if len(p.Forward) == 0 {
		ok, err := f.t.ChainExists(Table, ForwardChain)
		if err != nil || !ok {
			return err
		}
		return k.removeForward(f)
	}
	for _, svc := range p.Forward {
		if err := k.createSet(ForwardSet(f.v6, svc), "hash:ip", f.v6, p.Timeout); err != nil {
			return err
		}
	}
	if err := k.syncChain(f, ForwardChain, p.ForwardRules(f.v6)); err != nil {
		return err
	}
	from, err := forwardFrom(f.t)
	if err != nil {
		return err
	}
	if err := ensureJump(f.t, from, ForwardChain); err != nil {
		return fmt.Errorf("jumping to %s from %s: %w", ForwardChain, from, err)
	}
	if from == dockerUser { // Docker came after the jump from FORWARD
		return removeJumps(f.t, "FORWARD", ForwardChain)
	}
	return nil
}

// removeForward deletes the forward chain's jumps, the chain and the
// forward sets of one family.
func (k *Kernel) removeForward(f family) error {
	var errs []error
	for _, from := range []string{dockerUser, "FORWARD"} {
		errs = append(errs, removeJumps(f.t, from, ForwardChain))
	}
	errs = append(errs, f.t.ClearAndDeleteChain(Table, ForwardChain))
	names, err := k.sets.Names()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, n := range names {
		if strings.HasPrefix(n, f.set+"-") {
			if err := k.sets.Destroy(n); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// grantForward adds src to svc's forward set when svc is forwarded.
func (k *Kernel) grantForward(src netip.Addr, svc derive.Knock, timeout time.Duration) error {
	k.mu.Lock()
	fwd := k.forward[svc]
	k.mu.Unlock()
	if !fwd {
		return nil
	}
	return k.sets.Add(ForwardSet(src.Is6(), svc), setEntry{Addr: src, Timeout: timeout})
}
