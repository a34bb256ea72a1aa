package firewall

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/otpknock/otpknock/clock"
	"golang.org/x/sys/unix"
)

// fakeNFTConn is an NFTConn that keeps an nftables ruleset in memory at the
// rule level, with the kernel's transaction rules that otpknock relies
// on: writes are queued and Flush applies all of them or none; deleting
// a missing object is ENOENT, a chain with rules or a set a rule looks up
// or updates EBUSY; adding an element that exists changes nothing
// (kernels before 6.12 keep its old timeout) unless AddRefreshes, adding
// one to a full set (its Size) is ENFILE. Elements expire on Clock. String renders
// the ruleset.
type fakeNFTConn struct {
	Clock    clock.Clock
	FlushErr error // returned (and nothing applied) by Flush when set
	// AddRefreshes makes adding an element that exists set its timeout
	// anew, as Linux does from 6.12 (NewNFTOn then adds only).
	AddRefreshes bool

	mu      sync.Mutex
	state   fakeRuleset
	queue   []func(*fakeRuleset) error
	flushes int
}

type fakeRuleset struct {
	tables []*nftFakeTable
	handle uint64
}

type nftFakeTable struct {
	t      nftables.Table
	chains []*fakeChain
	sets   []*nftFakeSet
}

type fakeChain struct {
	c     nftables.Chain
	rules []nftables.Rule
}

type nftFakeSet struct {
	s     nftables.Set
	elems map[string]time.Time // hex key -> expiry (zero: none)
}

var _ NFTConn = (*fakeNFTConn)(nil)

func (r *fakeRuleset) clone() fakeRuleset {
	out := fakeRuleset{handle: r.handle}
	for _, t := range r.tables {
		nt := &nftFakeTable{t: t.t}
		for _, c := range t.chains {
			nt.chains = append(nt.chains, &fakeChain{c: c.c, rules: slices.Clone(c.rules)})
		}
		for _, s := range t.sets {
			nt.sets = append(nt.sets, &nftFakeSet{s: s.s, elems: maps.Clone(s.elems)})
		}
		out.tables = append(out.tables, nt)
	}
	return out
}

func (r *fakeRuleset) table(t *nftables.Table) *nftFakeTable {
	for _, ft := range r.tables {
		if ft.t.Name == t.Name && ft.t.Family == t.Family {
			return ft
		}
	}
	return nil
}

func (t *nftFakeTable) chain(name string) *fakeChain {
	for _, c := range t.chains {
		if c.c.Name == name {
			return c
		}
	}
	return nil
}

func (t *nftFakeTable) set(name string) *nftFakeSet {
	for _, s := range t.sets {
		if s.s.Name == name {
			return s
		}
	}
	return nil
}

// setInUse reports whether a rule of t looks up or updates the set.
func (t *nftFakeTable) setInUse(name string) bool {
	for _, c := range t.chains {
		for _, r := range c.rules {
			for _, e := range r.Exprs {
				if setOf(e) == name {
					return true
				}
			}
		}
	}
	return false
}

// setOf names the set an expression looks up or updates, "" for none.
func setOf(e expr.Any) string {
	switch e := e.(type) {
	case *expr.Lookup:
		return e.SetName
	case *expr.Dynset:
		return e.SetName
	}
	return ""
}

func (f *fakeNFTConn) enqueue(op func(*fakeRuleset) error) {
	f.mu.Lock()
	f.queue = append(f.queue, op)
	f.mu.Unlock()
}

// Flush applies the queued writes as one transaction.
func (f *fakeNFTConn) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue
	f.queue = nil
	if f.FlushErr != nil {
		return f.FlushErr
	}
	next := f.state.clone()
	for _, op := range q {
		if err := op(&next); err != nil {
			return err
		}
	}
	f.state = next
	f.flushes++
	return nil
}

// Transactions counts the transactions Flush applied.
func (f *fakeNFTConn) Transactions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushes
}

// AddTable queues creating t unless it exists.
func (f *fakeNFTConn) AddTable(t *nftables.Table) *nftables.Table {
	f.enqueue(func(r *fakeRuleset) error {
		if r.table(t) == nil {
			r.tables = append(r.tables, &nftFakeTable{t: nftables.Table{Name: t.Name, Family: t.Family}})
		}
		return nil
	})
	return t
}

// DelTable queues deleting t with everything in it.
func (f *fakeNFTConn) DelTable(t *nftables.Table) {
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(t)
		if ft == nil {
			return fmt.Errorf("deleting table %s: %w", t.Name, unix.ENOENT)
		}
		r.tables = slices.DeleteFunc(r.tables, func(x *nftFakeTable) bool { return x == ft })
		return nil
	})
}

// AddChain queues creating c; an existing chain must have the same hook.
func (f *fakeNFTConn) AddChain(c *nftables.Chain) *nftables.Chain {
	cc := *c
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(c.Table)
		if ft == nil {
			return fmt.Errorf("adding chain %s: %w", c.Name, unix.ENOENT)
		}
		if old := ft.chain(c.Name); old != nil {
			if !hookEqual(old.c, cc) {
				return fmt.Errorf("changing the hook of chain %s: %w", c.Name, unix.EOPNOTSUPP)
			}
			return nil
		}
		cc.Table = &ft.t
		ft.chains = append(ft.chains, &fakeChain{c: cc})
		return nil
	})
	return c
}

func hookEqual(a, b nftables.Chain) bool {
	eq := func(x, y *nftables.ChainHook) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	peq := func(x, y *nftables.ChainPriority) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.Hooknum, b.Hooknum) && peq(a.Priority, b.Priority) && a.Type == b.Type
}

// DelChain queues deleting an empty chain.
func (f *fakeNFTConn) DelChain(c *nftables.Chain) {
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(c.Table)
		if ft == nil || ft.chain(c.Name) == nil {
			return fmt.Errorf("deleting chain %s: %w", c.Name, unix.ENOENT)
		}
		if len(ft.chain(c.Name).rules) > 0 {
			return fmt.Errorf("deleting chain %s: %w", c.Name, unix.EBUSY)
		}
		ft.chains = slices.DeleteFunc(ft.chains, func(x *fakeChain) bool { return x.c.Name == c.Name })
		return nil
	})
}

// FlushChain queues deleting every rule of c.
func (f *fakeNFTConn) FlushChain(c *nftables.Chain) {
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(c.Table)
		if ft == nil || ft.chain(c.Name) == nil {
			return fmt.Errorf("flushing chain %s: %w", c.Name, unix.ENOENT)
		}
		ft.chain(c.Name).rules = nil
		return nil
	})
}

// AddRule queues appending rl; its chain and the sets it looks up must
// exist.
func (f *fakeNFTConn) AddRule(rl *nftables.Rule) *nftables.Rule {
	nr := nftables.Rule{Table: rl.Table, Chain: rl.Chain, Exprs: slices.Clone(rl.Exprs), UserData: slices.Clone(rl.UserData)}
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(nr.Table)
		if ft == nil || ft.chain(nr.Chain.Name) == nil {
			return fmt.Errorf("adding a rule to chain %s: %w", nr.Chain.Name, unix.ENOENT)
		}
		for _, e := range nr.Exprs {
			if name := setOf(e); name != "" && ft.set(name) == nil {
				return fmt.Errorf("rule looks up set %s: %w", name, unix.ENOENT)
			}
		}
		r.handle++
		nr.Handle = r.handle
		c := ft.chain(nr.Chain.Name)
		c.rules = append(c.rules, nr)
		return nil
	})
	return rl
}

// DelRule queues deleting the rule with rl's handle.
func (f *fakeNFTConn) DelRule(rl *nftables.Rule) error {
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(rl.Table)
		if ft == nil || ft.chain(rl.Chain.Name) == nil {
			return fmt.Errorf("deleting rule %d: %w", rl.Handle, unix.ENOENT)
		}
		c := ft.chain(rl.Chain.Name)
		n := len(c.rules)
		c.rules = slices.DeleteFunc(c.rules, func(x nftables.Rule) bool { return x.Handle == rl.Handle })
		if len(c.rules) == n {
			return fmt.Errorf("deleting rule %d: %w", rl.Handle, unix.ENOENT)
		}
		return nil
	})
	return nil
}

// AddSet queues creating s; an existing set must have the same type.
func (f *fakeNFTConn) AddSet(s *nftables.Set, vals []nftables.SetElement) error {
	ns := *s
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(s.Table)
		if ft == nil {
			return fmt.Errorf("adding set %s: %w", s.Name, unix.ENOENT)
		}
		if old := ft.set(s.Name); old != nil {
			if renderSet(&old.s) != renderSet(&ns) {
				return fmt.Errorf("adding set %s: %w", s.Name, unix.EEXIST)
			}
			return nil
		}
		ns.Table = &ft.t
		ft.sets = append(ft.sets, &nftFakeSet{s: ns, elems: map[string]time.Time{}})
		return nil
	})
	return f.SetAddElements(s, vals)
}

// DelSet queues deleting a set no rule looks up.
func (f *fakeNFTConn) DelSet(s *nftables.Set) {
	f.enqueue(func(r *fakeRuleset) error {
		ft := r.table(s.Table)
		if ft == nil || ft.set(s.Name) == nil {
			return fmt.Errorf("deleting set %s: %w", s.Name, unix.ENOENT)
		}
		if ft.setInUse(s.Name) {
			return fmt.Errorf("deleting set %s: %w", s.Name, unix.EBUSY)
		}
		ft.sets = slices.DeleteFunc(ft.sets, func(x *nftFakeSet) bool { return x.s.Name == s.Name })
		return nil
	})
}

// SetAddElements queues adding elements; existing ones stay as they are.
func (f *fakeNFTConn) SetAddElements(s *nftables.Set, vals []nftables.SetElement) error {
	if len(vals) == 0 {
		return nil
	}
	now := f.Clock.Now()
	f.enqueue(func(r *fakeRuleset) error {
		fs, err := r.findSet(s)
		if err != nil {
			return err
		}
		live := fs.live(now)
		for _, v := range vals {
			k := fakeElemKey(v)
			if exp, ok := fs.elems[k]; ok && (exp.IsZero() || exp.After(now)) {
				if f.AddRefreshes && v.Expires > 0 {
					fs.elems[k] = now.Add(v.Expires)
				}
				continue
			}
			if fs.s.Size > 0 && live >= int(fs.s.Size) {
				return fmt.Errorf("adding an element to set %s: %w", s.Name, unix.ENFILE)
			}
			live++
			var exp time.Time
			if v.Timeout > 0 {
				exp = now.Add(v.Timeout)
			}
			fs.elems[k] = exp
		}
		return nil
	})
	return nil
}

// SetDeleteElements queues deleting elements, each of which must exist.
func (f *fakeNFTConn) SetDeleteElements(s *nftables.Set, vals []nftables.SetElement) error {
	now := f.Clock.Now()
	f.enqueue(func(r *fakeRuleset) error {
		fs, err := r.findSet(s)
		if err != nil {
			return err
		}
		for _, v := range vals {
			k := fakeElemKey(v)
			if exp, ok := fs.elems[k]; !ok || (!exp.IsZero() && !exp.After(now)) {
				return fmt.Errorf("deleting an element of set %s: %w", s.Name, unix.ENOENT)
			}
			delete(fs.elems, k)
		}
		return nil
	})
	return nil
}

// fakeElemKey names an element in nftFakeSet.elems: its key in hex,
// and "-" and its last key for an interval of a concatenation.
func fakeElemKey(v nftables.SetElement) string {
	k := hex.EncodeToString(v.Key)
	if len(v.KeyEnd) > 0 {
		k += "-" + hex.EncodeToString(v.KeyEnd)
	}
	return k
}

// live counts the elements that have not expired at now.
func (s *nftFakeSet) live(now time.Time) int {
	n := 0
	for _, exp := range s.elems {
		if exp.IsZero() || exp.After(now) {
			n++
		}
	}
	return n
}

func (r *fakeRuleset) findSet(s *nftables.Set) (*nftFakeSet, error) {
	ft := r.table(s.Table)
	if ft == nil || ft.set(s.Name) == nil {
		return nil, fmt.Errorf("set %s: %w", s.Name, unix.ENOENT)
	}
	return ft.set(s.Name), nil
}

// ListTablesOfFamily lists the committed tables of a family.
func (f *fakeNFTConn) ListTablesOfFamily(fam nftables.TableFamily) ([]*nftables.Table, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*nftables.Table
	for _, t := range f.state.tables {
		if fam == nftables.TableFamilyUnspecified || t.t.Family == fam {
			tt := t.t
			out = append(out, &tt)
		}
	}
	return out, nil
}

// ListChainsOfTableFamily lists the committed chains of a family.
func (f *fakeNFTConn) ListChainsOfTableFamily(fam nftables.TableFamily) ([]*nftables.Chain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*nftables.Chain
	for _, t := range f.state.tables {
		if t.t.Family != fam {
			continue
		}
		for _, c := range t.chains {
			cc, tt := c.c, t.t
			cc.Table = &tt
			out = append(out, &cc)
		}
	}
	return out, nil
}

// GetRules lists the committed rules of a chain.
func (f *fakeNFTConn) GetRules(t *nftables.Table, c *nftables.Chain) ([]*nftables.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := f.state.table(t)
	if ft == nil || ft.chain(c.Name) == nil {
		return nil, fmt.Errorf("chain %s: %w", c.Name, unix.ENOENT)
	}
	var out []*nftables.Rule
	for _, r := range ft.chain(c.Name).rules {
		rr := r
		rr.Table, rr.Chain = t, c
		out = append(out, &rr)
	}
	return out, nil
}

// GetSets lists the committed sets of a table.
func (f *fakeNFTConn) GetSets(t *nftables.Table) ([]*nftables.Set, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := f.state.table(t)
	if ft == nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, unix.ENOENT)
	}
	var out []*nftables.Set
	for _, s := range ft.sets {
		ss := s.s
		ss.Table = t
		out = append(out, &ss)
	}
	return out, nil
}

// GetSetElements lists a set's live elements with the time they have
// left.
func (f *fakeNFTConn) GetSetElements(s *nftables.Set) ([]nftables.SetElement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fs, err := f.state.findSet(s)
	if err != nil {
		return nil, err
	}
	now := f.Clock.Now()
	var out []nftables.SetElement
	for _, k := range slices.Sorted(maps.Keys(fs.elems)) {
		exp := fs.elems[k]
		if !exp.IsZero() && !exp.After(now) {
			continue
		}
		first, last, _ := strings.Cut(k, "-")
		key, _ := hex.DecodeString(first)
		end, _ := hex.DecodeString(last)
		e := nftables.SetElement{Key: key, KeyEnd: end}
		if !exp.IsZero() {
			e.Expires = exp.Sub(now)
		}
		out = append(out, e)
	}
	return out, nil
}

// String renders the committed ruleset, nft-like: tables, sets with
// their live elements and seconds left, chains with their rules and
// comments; then the count of transactions.
func (f *fakeNFTConn) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	now := f.Clock.Now()
	for _, t := range f.state.tables {
		fmt.Fprintf(&b, "table %s %s\n", familyName(t.t.Family), t.t.Name)
		for _, s := range t.sets {
			fmt.Fprintf(&b, "\t%s\n", renderSet(&s.s))
			for _, k := range slices.Sorted(maps.Keys(s.elems)) {
				if exp := s.elems[k]; exp.IsZero() || exp.After(now) {
					fmt.Fprintf(&b, "\t\t%s%s\n", renderKey(k), left(exp, now))
				}
			}
		}
		for _, c := range t.chains {
			fmt.Fprintf(&b, "\tchain %s%s\n", c.c.Name, renderHook(c.c))
			for _, r := range c.rules {
				fmt.Fprintf(&b, "\t\t%s", renderExprs(r.Exprs))
				if com := ruleComment(&r); com != "" {
					fmt.Fprintf(&b, " comment %q", com)
				}
				b.WriteString("\n")
			}
		}
	}
	fmt.Fprintf(&b, "transactions %d\n", f.flushes)
	return b.String()
}

func left(exp, now time.Time) string {
	if exp.IsZero() {
		return ""
	}
	return fmt.Sprintf(" expires %.0fs", exp.Sub(now).Seconds())
}

func renderKey(k string) string {
	b, _ := hex.DecodeString(k)
	if addr, proto, port, ok := parseGrantKey(b); ok {
		return fmt.Sprintf("%v . %s . %d", addr, protoName(proto), port)
	}
	if s, ok := filterKey(b); ok {
		return s
	}
	return k
}

func renderHook(c nftables.Chain) string {
	if c.Hooknum == nil {
		return ""
	}
	hook := map[nftables.ChainHook]string{*nftables.ChainHookPrerouting: "prerouting", *nftables.ChainHookInput: "input",
		*nftables.ChainHookForward: "forward", *nftables.ChainHookOutput: "output", *nftables.ChainHookPostrouting: "postrouting"}[*c.Hooknum]
	prio := 0
	if c.Priority != nil {
		prio = int(*c.Priority)
	}
	policy := "accept"
	if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
		policy = "drop"
	}
	return fmt.Sprintf(" { type %s hook %s priority %d; policy %s; }", c.Type, hook, prio, policy)
}

// nftOn is the nftables backend over f.
func nftOn(f *fakeNFTConn) *NFT { return newNFTOn(f, f.AddRefreshes) }
