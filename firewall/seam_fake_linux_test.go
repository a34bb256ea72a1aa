package firewall

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
)

// fakeTables is a tables in memory, at the rule level: the filter
// table's built-in chains and any created, each a list of rules in
// go-iptables' argument form. Like iptables, it refuses a jump to a
// chain that does not exist and the deletion of a chain still jumped
// to or not empty, and applies a Restore all or nothing. Its other
// methods (Insert, Flush, Replace, ...) are what tests break it with.
// String renders it as iptables -S does.
type fakeTables struct {
	mu     sync.Mutex
	chains map[string][]string // "table/chain" -> rules, each its joined arguments
	// Fail, when set, is asked before each change (op is "restore",
	// with the batch's lines, or "insert", "delete", "newchain",
	// "deletechain") and fails it with its error.
	Fail func(op string, rule string) error
	// Changed, when set, runs after each change, without the lock held.
	Changed func()
	// Step, when set, runs after each line of a Restore, on the batch's
	// working copy (rules lists a chain's rules), with the lock held: a
	// test sees each intermediate state a batch passes through.
	Step func(line string, rules func(chain string) []string)
}

// builtin are the filter table's built-in chains.
var builtin = []string{"INPUT", "FORWARD", "OUTPUT"}

func newFakeTables() *fakeTables {
	f := &fakeTables{chains: map[string][]string{}}
	for _, c := range builtin {
		f.chains[Table+"/"+c] = nil
	}
	return f
}

var errNoChain = fmt.Errorf("no chain/target/match by that name: %w", os.ErrNotExist)

// targets are the targets that are not chains.
var targets = []string{"ACCEPT", "DROP", "RETURN", "NFLOG", "REJECT", "LOG", "SET"}

func (f *fakeTables) change(op, rule string) error {
	if f.Fail != nil {
		return f.Fail(op, rule)
	}
	return nil
}

func (f *fakeTables) changed() {
	if f.Changed != nil {
		f.Changed()
	}
}

// ChainExists reports whether the chain exists.
func (f *fakeTables) ChainExists(table, chain string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.chains[table+"/"+chain]
	return ok, nil
}

// NewChain creates an empty chain; an error when it exists.
func (f *fakeTables) NewChain(table, chain string) error {
	f.mu.Lock()
	if _, ok := f.chains[table+"/"+chain]; ok {
		f.mu.Unlock()
		return fmt.Errorf("chain %s already exists", chain)
	}
	if err := f.change("newchain", chain); err != nil {
		f.mu.Unlock()
		return err
	}
	f.chains[table+"/"+chain] = nil
	f.mu.Unlock()
	f.changed()
	return nil
}

// List returns the chain as iptables -S does.
func (f *fakeTables) List(table, chain string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, ok := f.chains[table+"/"+chain]
	if !ok {
		return nil, errNoChain
	}
	head := "-N " + chain
	if slices.Contains(builtin, chain) {
		head = "-P " + chain + " ACCEPT"
	}
	out := []string{head}
	for _, r := range rules {
		out = append(out, "-A "+chain+" "+r)
	}
	return out, nil
}

// ListTable returns every chain as iptables -S does: the chains first,
// then their rules.
func (f *fakeTables) ListTable(table string) ([]string, error) {
	var heads, rules []string
	for _, c := range f.chainNames() {
		l, err := f.List(table, c)
		if err != nil {
			return nil, err
		}
		heads, rules = append(heads, l[0]), append(rules, l[1:]...)
	}
	return append(heads, rules...), nil
}

// chainNames lists the chains: the built-in ones, then the others by
// name.
func (f *fakeTables) chainNames() []string {
	f.mu.Lock()
	var names []string
	for k := range f.chains {
		if c := strings.TrimPrefix(k, Table+"/"); !slices.Contains(builtin, c) {
			names = append(names, c)
		}
	}
	f.mu.Unlock()
	slices.Sort(names)
	return append(slices.Clone(builtin), names...)
}

// check refuses a rule on a missing chain or jumping to one. f.mu is
// held.
func (f *fakeTables) check(table, chain string, rule []string) error {
	if _, ok := f.chains[table+"/"+chain]; !ok {
		return errNoChain
	}
	if i := slices.Index(rule, "-j"); i >= 0 && i+1 < len(rule) {
		t := rule[i+1]
		if _, ok := f.chains[table+"/"+t]; !ok && !slices.Contains(targets, t) {
			return fmt.Errorf("couldn't load target %q", t)
		}
	}
	return nil
}

// Exists reports whether the chain holds rule.
func (f *fakeTables) Exists(table, chain string, rule ...string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(table, chain, rule); err != nil {
		return false, err
	}
	return slices.Contains(f.chains[table+"/"+chain], strings.Join(rule, " ")), nil
}

// Insert puts rule at pos (from 1; one past the end appends).
func (f *fakeTables) Insert(table, chain string, pos int, rule ...string) error {
	f.mu.Lock()
	if err := f.check(table, chain, rule); err != nil {
		f.mu.Unlock()
		return err
	}
	rs := f.chains[table+"/"+chain]
	if pos < 1 || pos > len(rs)+1 {
		f.mu.Unlock()
		return fmt.Errorf("index of insertion too big")
	}
	r := strings.Join(rule, " ")
	if err := f.change("insert", r); err != nil {
		f.mu.Unlock()
		return err
	}
	f.chains[table+"/"+chain] = slices.Insert(rs, pos-1, r)
	f.mu.Unlock()
	f.changed()
	return nil
}

// DeleteById deletes the rule at pos (from 1).
func (f *fakeTables) DeleteById(table, chain string, pos int) error {
	f.mu.Lock()
	rs, ok := f.chains[table+"/"+chain]
	if !ok {
		f.mu.Unlock()
		return errNoChain
	}
	if pos < 1 || pos > len(rs) {
		f.mu.Unlock()
		return fmt.Errorf("index of deletion too big")
	}
	if err := f.change("delete", rs[pos-1]); err != nil {
		f.mu.Unlock()
		return err
	}
	f.chains[table+"/"+chain] = slices.Delete(rs, pos-1, pos)
	f.mu.Unlock()
	f.changed()
	return nil
}

// DeleteIfExists deletes the first rule equal to rule.
func (f *fakeTables) DeleteIfExists(table, chain string, rule ...string) error {
	f.mu.Lock()
	if err := f.check(table, chain, rule); err != nil {
		f.mu.Unlock()
		return err
	}
	i := slices.Index(f.chains[table+"/"+chain], strings.Join(rule, " "))
	f.mu.Unlock()
	if i < 0 {
		return nil
	}
	return f.DeleteById(table, chain, i+1)
}

// ClearAndDeleteChain deletes a chain no rule jumps to.
func (f *fakeTables) ClearAndDeleteChain(table, chain string) error {
	f.mu.Lock()
	if _, ok := f.chains[table+"/"+chain]; !ok {
		f.mu.Unlock()
		return nil
	}
	if f.referenced(table, chain) {
		f.mu.Unlock()
		return fmt.Errorf("deleting chain %s: too many links", chain)
	}
	if err := f.change("deletechain", chain); err != nil {
		f.mu.Unlock()
		return err
	}
	delete(f.chains, table+"/"+chain)
	f.mu.Unlock()
	f.changed()
	return nil
}

// Restore applies the lines to a copy of the chains and keeps the copy
// only when every line applies.
func (f *fakeTables) Restore(table string, lines []string) error {
	f.mu.Lock()
	if err := f.change("restore", strings.Join(lines, "\n")); err != nil {
		f.mu.Unlock()
		return err
	}
	orig := f.chains
	f.chains = map[string][]string{}
	for k, rs := range orig {
		f.chains[k] = slices.Clone(rs)
	}
	for i, l := range lines {
		if err := f.apply(table, l); err != nil {
			f.chains = orig
			f.mu.Unlock()
			return fmt.Errorf("line %d: %q: %w", i+2, l, err)
		}
		if f.Step != nil {
			f.Step(l, func(c string) []string { return slices.Clone(f.chains[table+"/"+c]) })
		}
	}
	f.mu.Unlock()
	f.changed()
	return nil
}

// apply applies one line of a Restore. f.mu is held.
func (f *fakeTables) apply(table, line string) error {
	w := strings.Fields(line)
	if len(w) == 1 && strings.HasPrefix(w[0], ":") || len(w) == 3 && strings.HasPrefix(w[0], ":") {
		if _, ok := f.chains[table+"/"+w[0][1:]]; !ok {
			f.chains[table+"/"+w[0][1:]] = nil
		}
		return nil
	}
	if len(w) < 2 {
		return fmt.Errorf("bad line")
	}
	key := table + "/" + w[1]
	rs, ok := f.chains[key]
	if !ok {
		return errNoChain
	}
	num := func(i int) (int, error) {
		if len(w) <= i {
			return 0, fmt.Errorf("no rule number")
		}
		var n int
		if _, err := fmt.Sscan(w[i], &n); err != nil {
			return 0, err
		}
		return n, nil
	}
	switch w[0] {
	case "-I":
		n, err := num(2)
		if err != nil || n < 1 || n > len(rs)+1 {
			return fmt.Errorf("index of insertion too big")
		}
		if err := f.check(table, w[1], w[3:]); err != nil {
			return err
		}
		f.chains[key] = slices.Insert(rs, n-1, strings.Join(w[3:], " "))
	case "-A":
		if err := f.check(table, w[1], w[2:]); err != nil {
			return err
		}
		f.chains[key] = append(rs, strings.Join(w[2:], " "))
	case "-D":
		n, err := num(2)
		if err != nil || len(w) != 3 || n < 1 || n > len(rs) {
			return fmt.Errorf("index of deletion too big")
		}
		f.chains[key] = slices.Delete(rs, n-1, n)
	case "-F":
		f.chains[key] = nil
	case "-X":
		if slices.Contains(builtin, w[1]) {
			return fmt.Errorf("cannot delete built-in chain %s", w[1])
		}
		if len(rs) > 0 || f.referenced(table, w[1]) {
			return fmt.Errorf("deleting chain %s: resource busy", w[1])
		}
		delete(f.chains, key)
	default:
		return fmt.Errorf("unknown command %s", w[0])
	}
	return nil
}

// referenced reports whether a rule jumps to chain. f.mu is held.
func (f *fakeTables) referenced(table, chain string) bool {
	for k, rs := range f.chains {
		for _, r := range rs {
			if strings.HasPrefix(k, table+"/") && strings.Contains(r+" ", "-j "+chain+" ") {
				return true
			}
		}
	}
	return false
}

// Flush empties a chain, as iptables -F does (a firewall reload).
func (f *fakeTables) Flush(table, chain string) {
	f.mu.Lock()
	if _, ok := f.chains[table+"/"+chain]; ok {
		f.chains[table+"/"+chain] = nil
	}
	f.mu.Unlock()
}

// Replace puts rule in place of the rule at pos (from 1), as iptables -R
// does.
func (f *fakeTables) Replace(table, chain string, pos int, rule ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rs := f.chains[table+"/"+chain]; pos >= 1 && pos <= len(rs) {
		rs[pos-1] = strings.Join(rule, " ")
	}
}

// Rules returns the chain's rules (its joined arguments), nil when it is
// missing.
func (f *fakeTables) Rules(table, chain string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.chains[table+"/"+chain])
}

// String renders every chain as iptables -S does: built-in chains
// first, then the others by name.
func (f *fakeTables) String() string {
	var out []string
	for _, c := range f.chainNames() {
		l, _ := f.List(Table, c)
		out = append(out, l...)
	}
	return strings.Join(out, "\n")
}

// fakeSets is a sets in memory. String renders it like ipset list.
type fakeSets struct {
	mu   sync.Mutex
	sets map[string]*fakeSet
	// Fail, when set, is asked before each call (op is "create", "add",
	// "del", "list", "destroy" or "names") and fails it with its error.
	Fail func(op, name string) error
	// Clock, when set, expires entries: List leaves out the expired
	// and gives the others the time they have left.
	Clock clock.Clock
}

type fakeSet struct {
	typ     string
	v6      bool
	timeout time.Duration
	entries map[string]setEntry // by address and service
	expires map[string]time.Time
}

func newFakeSets() *fakeSets { return &fakeSets{sets: map[string]*fakeSet{}} }

func (f *fakeSets) fail(op, name string) error {
	if f.Fail != nil {
		return f.Fail(op, name)
	}
	return nil
}

// Create makes an empty set; os.ErrExist when it exists.
func (f *fakeSets) Create(name, typ string, v6 bool, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("create", name); err != nil {
		return err
	}
	if _, ok := f.sets[name]; ok {
		return fmt.Errorf("set %s: %w", name, os.ErrExist)
	}
	f.sets[name] = &fakeSet{typ: typ, v6: v6, timeout: timeout, entries: map[string]setEntry{}, expires: map[string]time.Time{}}
	return nil
}

// Add adds or replaces an entry; it refuses an address of the other
// family, a service in a set of addresses (hash:ip, hash:net) or none
// in a set with ports, and a prefix length in a set without nets.
func (f *fakeSets) Add(name string, e setEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("add", name); err != nil {
		return err
	}
	s, err := f.entrySet(name, e)
	if err != nil {
		return err
	}
	s.entries[entryKey(e)] = e
	if f.Clock != nil && e.Timeout > 0 {
		s.expires[entryKey(e)] = f.Clock.Now().Add(e.Timeout)
	}
	return nil
}

// entrySet returns the set name that e fits, or why it does not. f.mu
// is held.
func (f *fakeSets) entrySet(name string, e setEntry) (*fakeSet, error) {
	s, ok := f.sets[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("set %s: %w", name, os.ErrNotExist)
	case e.Addr.Unmap().Is6() != s.v6:
		return nil, fmt.Errorf("set %s: %v is of the other family", name, e.Addr)
	case strings.HasSuffix(s.typ, ",port") == (e.Svc.Port == 0), e.Bits != 0 && !strings.HasPrefix(s.typ, "hash:net"):
		return nil, fmt.Errorf("set %s of type %s: entry %s", name, s.typ, entryKey(e))
	}
	return s, nil
}

// Del deletes an entry; like ipset, it refuses one the set lacks.
func (f *fakeSets) Del(name string, e setEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("del", name); err != nil {
		return err
	}
	s, err := f.entrySet(name, e)
	if err != nil {
		return err
	}
	if _, ok := s.entries[entryKey(e)]; !ok {
		return fmt.Errorf("set %s: no entry %s", name, entryKey(e))
	}
	delete(s.entries, entryKey(e))
	delete(s.expires, entryKey(e))
	return nil
}

func entryKey(e setEntry) string {
	addr := e.Addr.Unmap().String()
	if e.Bits != 0 {
		addr += "/" + fmt.Sprint(e.Bits)
	}
	if e.Svc.Port == 0 {
		return addr
	}
	return addr + "," + e.Svc.Proto.String() + ":" + fmt.Sprint(e.Svc.Port)
}

// List returns the entries, sorted.
func (f *fakeSets) List(name string) ([]setEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("list", name); err != nil {
		return nil, err
	}
	s, ok := f.sets[name]
	if !ok {
		return nil, fmt.Errorf("set %s: %w", name, os.ErrNotExist)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range s.entries {
			if !yield(k) {
				return
			}
		}
	})
	out := make([]setEntry, 0, len(keys))
	for _, k := range keys {
		e := s.entries[k]
		if exp, ok := s.expires[k]; ok {
			if e.Timeout = exp.Sub(f.Clock.Now()); e.Timeout <= 0 {
				continue
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Destroy deletes a set.
func (f *fakeSets) Destroy(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("destroy", name); err != nil {
		return err
	}
	if _, ok := f.sets[name]; !ok {
		return fmt.Errorf("set %s: %w", name, os.ErrNotExist)
	}
	delete(f.sets, name)
	return nil
}

// Names lists the sets, sorted.
func (f *fakeSets) Names() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail("names", ""); err != nil {
		return nil, err
	}
	var out []string
	for n := range f.sets {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// String renders each set and its entries, sorted.
func (f *fakeSets) String() string {
	names, _ := f.Names()
	var out []string
	for _, n := range names {
		f.mu.Lock()
		s := f.sets[n]
		fam := "inet"
		if s.v6 {
			fam = "inet6"
		}
		out = append(out, fmt.Sprintf("%s %s family %s timeout %d", n, s.typ, fam, int(s.timeout.Seconds())))
		f.mu.Unlock()
		es, _ := f.List(n)
		for _, e := range es {
			out = append(out, fmt.Sprintf("  %s timeout %d", entryKey(e), int(e.Timeout.Seconds())))
		}
	}
	return strings.Join(out, "\n")
}

// fakeFilterSets keeps the filter's sets in memory: whether they exist,
// the source sets' hash size, the armed elements and tracked sources,
// expiring on Clock when set.
type fakeFilterSets struct {
	Clock    clock.Clock
	exists   bool
	hashSize uint32
	armed    map[derive.Knock]time.Time
	tracked  map[netip.Addr]time.Time
}

// Setup creates the sets when p filters, and replaces source sets of a
// smaller hash than sourceHashSize (empty).
func (f *fakeFilterSets) Setup(p Plan) error {
	if !p.Filter {
		return nil
	}
	if f.hashSize < sourceHashSize {
		f.hashSize, f.tracked = sourceHashSize, nil
	}
	f.exists = true
	return nil
}

// Check lists the missing source sets, or those of a smaller hash than
// sourceHashSize, when p filters.
func (f *fakeFilterSets) Check(p Plan) ([]string, error) {
	var out []string
	for _, s := range []string{FilterSrc4, FilterSrc6} {
		switch {
		case !p.Filter:
		case !f.exists:
			out = append(out, "set "+s)
		case f.hashSize < sourceHashSize:
			out = append(out, fmt.Sprintf("set %s: hash size %d, want %d", s, f.hashSize, sourceHashSize))
		}
	}
	return out, nil
}

// Remove destroys the sets.
func (f *fakeFilterSets) Remove() error {
	f.exists, f.hashSize, f.armed, f.tracked = false, 0, nil, nil
	return nil
}

// expiry is when an entry added now for ttl expires; zero without a
// Clock (never).
func (f *fakeFilterSets) expiry(ttl time.Duration) time.Time {
	if f.Clock == nil {
		return time.Time{}
	}
	return f.Clock.Now().Add(time.Duration(ttlSeconds(ttl)) * time.Second)
}

// live reports whether an entry expiring at exp (present: ok) is live.
func (f *fakeFilterSets) live(exp time.Time, ok bool) bool {
	return ok && (exp.IsZero() || exp.After(f.Clock.Now()))
}

// Arm records the elements; the sets must exist.
func (f *fakeFilterSets) Arm(elems []Element) error {
	if !f.exists {
		return fmt.Errorf("arming: the filter's sets do not exist: %w", os.ErrNotExist)
	}
	if f.armed == nil {
		f.armed = map[derive.Knock]time.Time{}
	}
	for _, e := range elems {
		f.armed[e.Knock] = f.expiry(e.TTL)
	}
	return nil
}

// Track records the sources; the sets must exist.
func (f *fakeFilterSets) Track(srcs []Source) error {
	if !f.exists {
		return fmt.Errorf("tracking: the filter's sets do not exist: %w", os.ErrNotExist)
	}
	if f.tracked == nil {
		f.tracked = map[netip.Addr]time.Time{}
	}
	for _, s := range srcs {
		f.tracked[s.Addr.Unmap()] = f.expiry(s.TTL)
	}
	return nil
}

// passes reports whether the sets let a knock k from src through to
// NFLOG: an armed element or a tracked source (ICMP is not filtered).
func (f *fakeFilterSets) passes(src netip.Addr, k derive.Knock) bool {
	if k.Proto == derive.ICMP {
		return true
	}
	exp, ok := f.armed[k]
	texp, tok := f.tracked[src.Unmap()]
	return f.live(exp, ok) || f.live(texp, tok)
}
