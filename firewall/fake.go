package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
)

// Fake is a Backend that keeps its state in memory, with grant expiry on
// a clock. String renders the state for want-string comparisons.
type Fake struct {
	Clock clock.Clock

	mu        sync.Mutex
	digest    string // installed rule set; "" when none
	plan      Plan   // the installed plan
	nflog     bool
	setups    int
	grants    map[string]time.Time // "src svc" -> expiry
	SetupErr  error                // returned by Setup when set
	GrantErr  error                // returned by Grant when set
	StatusErr error                // returned by Status when set
}

// Setup records the plan as installed.
func (f *Fake) Setup(p Plan) error {
	if f.SetupErr != nil {
		return f.SetupErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.digest != p.Digest() || !f.nflog {
		f.setups++
	}
	f.digest, f.plan, f.nflog = p.Digest(), p, true
	if f.grants == nil {
		f.grants = map[string]time.Time{}
	}
	return nil
}

// Grant records a grant with its expiry.
func (f *Fake) Grant(src netip.Addr, svc derive.Knock, timeout time.Duration) error {
	if f.GrantErr != nil {
		return f.GrantErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.digest == "" {
		return fmt.Errorf("grant before setup")
	}
	f.grants[src.Unmap().String()+" "+svc.String()] = f.Clock.Now().Add(timeout)
	return nil
}

// Close stops logging.
func (f *Fake) Close(Plan) error {
	f.mu.Lock()
	f.nflog = false
	f.mu.Unlock()
	return nil
}

// Remove forgets everything.
func (f *Fake) Remove(Plan) error {
	f.mu.Lock()
	f.digest, f.nflog, f.grants = "", false, nil
	f.mu.Unlock()
	return nil
}

// Status reports the installed plan's rules as iptables lists them
// (without the NFLOG rules once closed) and the live grants.
func (f *Fake) Status(Plan) (Status, error) {
	if f.StatusErr != nil {
		return Status{}, f.StatusErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := Status{Installed: f.digest != ""}
	if st.Installed {
		st.Rules4, st.Rules6 = f.rules(false), f.rules(true)
	}
	for k, exp := range f.grants {
		if left := exp.Sub(f.Clock.Now()); left > 0 {
			src, svc, _ := strings.Cut(k, " ")
			k, _ := derive.ParseKnock(svc)
			st.Grants = append(st.Grants, GrantInfo{Src: netip.MustParseAddr(src), Svc: k, Left: left})
		}
	}
	return st, nil
}

// rules lists the installed chain's rules. f.mu is held.
func (f *Fake) rules(v6 bool) []string {
	var out []string
	for _, r := range f.plan.Rules(v6) {
		if f.nflog || !IsNFLOG(r) {
			out = append(out, "-A "+Chain+" "+strings.Join(r, " "))
		}
	}
	return out
}

// String renders the state: installation, logging, and each live grant
// with the seconds left, sorted.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines := []string{fmt.Sprintf("installed=%v nflog=%v setups=%d", f.digest != "", f.nflog, f.setups)}
	var gs []string
	for k, exp := range f.grants {
		if left := exp.Sub(f.Clock.Now()); left > 0 {
			gs = append(gs, fmt.Sprintf("grant %s %.0fs", k, left.Seconds()))
		}
	}
	slices.Sort(gs)
	return strings.Join(append(lines, gs...), "\n")
}

// Verify reports what differs between the plan and the recorded state.
func (f *Fake) Verify(p Plan) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.digest == "":
		return []string{"chain " + Chain + " is missing"}, nil
	case f.digest != p.Digest():
		return []string{"chain " + Chain + " differs from the plan"}, nil
	case !f.nflog && p.Protocols != 0:
		return []string{"the NFLOG rules are missing"}, nil
	}
	return nil, nil
}
