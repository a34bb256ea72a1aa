package firewalltest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// Fake is a Backend that keeps its state in memory, with grant expiry on
// a clock: the chain's rules per family, the INPUT jump, the sets and
// the grants. String renders the state for want-string comparisons;
// FlushInput, DeleteRule and DestroySets break it the way a firewall
// reload or an administrator would, for tests of Verify and repairs.
type Fake struct {
	Clock clock.Clock

	mu        sync.Mutex
	digest    string               // installed rule set; "" when none
	plan      firewall.Plan        // the installed plan
	rules     map[bool][]string    // installed chain rules by v6, "-A OTPKNOCK ..."
	jump      bool                 // INPUT jumps to the chain
	closed    bool                 // Close removed the NFLOG rules
	sets      bool                 // the grant sets exist
	setups    int                  // Setups that changed something
	grants    map[string]time.Time // "src svc" -> expiry
	SetupErr  error                // returned by Setup when set
	GrantErr  error                // returned by Grant when set
	StatusErr error                // returned by Status when set
	VerifyErr error                // returned by Verify when set
}

// Setup installs the plan: the chain's rules, the jump and the sets. It
// counts a setup only when it changed something.
func (f *Fake) Setup(p firewall.Plan) error {
	if f.SetupErr != nil {
		return f.SetupErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.digest != p.Digest() || !slices.Equal(f.plan.Forward, p.Forward) || len(f.missing(p, true)) > 0 {
		f.setups++
	}
	f.digest, f.plan, f.jump, f.sets, f.closed = p.Digest(), p, true, true, false
	f.rules = map[bool][]string{false: fakeRules(p, false, true), true: fakeRules(p, true, true)}
	if f.grants == nil {
		f.grants = map[string]time.Time{}
	}
	return nil
}

// fakeRules lists p's rules as iptables -S shows them, without the
// NFLOG rules unless nflog.
func fakeRules(p firewall.Plan, v6, nflog bool) []string {
	var out []string
	for _, r := range p.Rules(v6) {
		if nflog || !firewall.IsNFLOG(r) {
			out = append(out, "-A "+firewall.Chain+" "+strings.Join(r, " "))
		}
	}
	return out
}

// fakeForwardRules lists p's forward chain as iptables -S shows it;
// none without forwarded services.
func fakeForwardRules(p firewall.Plan, v6 bool) []string {
	var out []string
	for _, r := range p.ForwardRules(v6) {
		out = append(out, "-A "+firewall.ForwardChain+" "+strings.Join(r, " "))
	}
	return out
}

// Grant records a grant with its expiry; a prefix wider than one
// address needs a plan with Prefixes.
func (f *Fake) Grant(src netip.Prefix, svc derive.Knock, timeout time.Duration) error {
	if f.GrantErr != nil {
		return f.GrantErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.digest == "" || !f.sets {
		return fmt.Errorf("grant before setup")
	}
	src = netip.PrefixFrom(src.Addr().Unmap(), src.Bits()).Masked()
	key := src.String()
	if firewall.IsHost(src) {
		key = src.Addr().String()
	} else if !f.plan.Prefixes {
		return fmt.Errorf("grant of %v: no prefix sets installed", src)
	}
	f.grants[key+" "+svc.String()] = f.Clock.Now().Add(timeout)
	return nil
}

// Close stops logging: the NFLOG rules go, the rest stays.
func (f *Fake) Close(p firewall.Plan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for v6, rs := range f.rules {
		f.rules[v6] = slices.DeleteFunc(rs, func(r string) bool { return strings.Contains(r, " NFLOG ") })
	}
	return nil
}

// Remove forgets everything.
func (f *Fake) Remove(firewall.Plan) error {
	f.mu.Lock()
	f.digest, f.rules, f.jump, f.sets, f.grants = "", nil, false, false, nil
	f.mu.Unlock()
	return nil
}

// Status reports the installed rules as iptables lists them and the
// live grants.
func (f *Fake) Status(firewall.Plan) (firewall.Status, error) {
	if f.StatusErr != nil {
		return firewall.Status{}, f.StatusErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := firewall.Status{Installed: f.digest != ""}
	if st.Installed {
		st.Rules4, st.Rules6 = slices.Clone(f.rules[false]), slices.Clone(f.rules[true])
		st.Forward4, st.Forward6 = fakeForwardRules(f.plan, false), fakeForwardRules(f.plan, true)
	}
	for k, exp := range f.grants {
		if left := exp.Sub(f.Clock.Now()); left > 0 {
			src, svc, _ := strings.Cut(k, " ")
			k, _ := derive.ParseKnock(svc)
			g := firewall.GrantInfo{Svc: k, Left: left}
			if pfx, err := netip.ParsePrefix(src); err == nil {
				g.Src, g.Net = pfx.Addr(), pfx
			} else {
				g.Src = netip.MustParseAddr(src)
			}
			st.Grants = append(st.Grants, g)
		}
	}
	return st, nil
}

// Verify lists what of p is missing or differs: the jump, the sets, the
// chain's rules (a closed chain, without its NFLOG rules, differs).
func (f *Fake) Verify(p firewall.Plan) ([]string, error) {
	if f.VerifyErr != nil {
		return nil, f.VerifyErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.missing(p, true), nil
}

// missing lists what of p is missing or differs, with or without its
// NFLOG rules. f.mu is held.
func (f *Fake) missing(p firewall.Plan, nflog bool) []string {
	var out []string
	if !f.sets {
		out = append(out, "sets "+firewall.Set4+", "+firewall.Set6)
	}
	if f.rules == nil {
		return append(out, "chain "+firewall.Chain)
	}
	if !f.jump {
		out = append(out, "jump from INPUT")
	}
	for _, v6 := range []bool{false, true} {
		if !slices.Equal(f.rules[v6], fakeRules(p, v6, nflog)) {
			out = append(out, ipt(v6)+": rules of "+firewall.Chain)
		}
	}
	return out
}

// FlushInput removes the INPUT jump, as iptables -F INPUT does.
func (f *Fake) FlushInput() {
	f.mu.Lock()
	f.jump = false
	f.mu.Unlock()
}

// DeleteRule removes rule i (from 0) of the family's chain.
func (f *Fake) DeleteRule(v6 bool, i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rs := f.rules[v6]; i < len(rs) {
		f.rules[v6] = slices.Delete(rs, i, i+1)
	}
}

// DestroySets removes the grant sets and their grants.
func (f *Fake) DestroySets() {
	f.mu.Lock()
	f.sets, f.grants = false, map[string]time.Time{}
	f.mu.Unlock()
}

// String renders the state: installation, logging, and each live grant
// with the seconds left, sorted; then a lock (a plan without knock
// rules), the forwarded services and what is missing from the installed
// plan (after Close, its NFLOG rules are not), each on its own line, when
// there are any.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	nflog := strings.Contains(strings.Join(f.rules[false], "\n"), " NFLOG ")
	lines := []string{fmt.Sprintf("installed=%v nflog=%v setups=%d", f.digest != "", nflog, f.setups)}
	var gs []string
	for k, exp := range f.grants {
		if left := exp.Sub(f.Clock.Now()); left > 0 {
			gs = append(gs, fmt.Sprintf("grant %s %.0fs", k, left.Seconds()))
		}
	}
	slices.Sort(gs)
	lines = append(lines, gs...)
	if f.digest == "" {
		return strings.Join(lines, "\n")
	}
	if f.plan.Protocols == 0 {
		lines = append(lines, "lock "+derive.Knocks(f.plan.Protected).String())
	}
	if len(f.plan.Forward) > 0 {
		lines = append(lines, "forward "+derive.Knocks(f.plan.Forward).String())
	}
	for _, m := range f.missing(f.plan, !f.closed) {
		lines = append(lines, "missing "+m)
	}
	return strings.Join(lines, "\n")
}

// Kind is the iptables Kind: the Fake keeps iptables' rules.
func (f *Fake) Kind() firewall.Kind { return firewall.KindOf(firewall.ModeIPTables) }

// ipt names a family's iptables command.
func ipt(v6 bool) string {
	if v6 {
		return "ip6tables"
	}
	return "iptables"
}
