package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/errno"
	"golang.org/x/sys/unix"
)

// NFTConn is the part of *nftables.Conn the nftables backend uses: reads
// answer at once, writes are queued and Flush sends them as one atomic
// transaction. fakeNFTConn is the one of tests.
type NFTConn interface {
	ListTablesOfFamily(nftables.TableFamily) ([]*nftables.Table, error)
	ListChainsOfTableFamily(nftables.TableFamily) ([]*nftables.Chain, error)
	GetRules(*nftables.Table, *nftables.Chain) ([]*nftables.Rule, error)
	GetSets(*nftables.Table) ([]*nftables.Set, error)
	GetSetElements(*nftables.Set) ([]nftables.SetElement, error)
	AddTable(*nftables.Table) *nftables.Table
	DelTable(*nftables.Table)
	AddChain(*nftables.Chain) *nftables.Chain
	DelChain(*nftables.Chain)
	FlushChain(*nftables.Chain)
	AddRule(*nftables.Rule) *nftables.Rule
	DelRule(*nftables.Rule) error
	AddSet(*nftables.Set, []nftables.SetElement) error
	DelSet(*nftables.Set)
	SetAddElements(*nftables.Set, []nftables.SetElement) error
	SetDeleteElements(*nftables.Set, []nftables.SetElement) error
	Flush() error
}

// NFT is the nftables Backend: table inet otpknock over netlink.
type NFT struct {
	mu    sync.Mutex // one transaction at a time on the connection
	conn  NFTConn
	elems elemWriter // the filter's element batches: conn, or nftBulk
	// addRefreshes: adding an existing element with an expiration sets its expiry anew
	// (Linux 6.12 on; fakeNFTConn with AddRefreshes).
	addRefreshes bool
}

// NewNFT opens a lasting nftables netlink connection in the calling
// thread's network namespace, which reopens itself there after a
// netlink error (healingConn).
func NewNFT() (*NFT, error) {
	ns, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nftErr("opening the network namespace", err)
	}
	dial := func() (NFTConn, error) {
		opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
		if !inNetNS(ns) { // entering it takes CAP_SYS_ADMIN, which the service lacks
			opts = append(opts, nftables.WithNetNSFd(ns))
		}
		c, err := nftables.New(opts...)
		if err != nil {
			return nil, nftErr("opening an nftables netlink socket", err)
		}
		return c, nil
	}
	c, err := dial()
	if err != nil {
		unix.Close(ns)
		return nil, err
	}
	bulk, err := dialNFTBulk()
	if err != nil {
		return nil, err
	}
	return &NFT{conn: &healingConn{NFTConn: c, dial: dial}, elems: bulk, addRefreshes: addRefreshes()}, nil
}

// inNetNS reports whether the calling thread is in the network
// namespace ns refers to.
func inNetNS(ns int) bool {
	var want, here unix.Stat_t
	if unix.Fstat(ns, &want) != nil || unix.Stat("/proc/thread-self/ns/net", &here) != nil {
		return false
	}
	return want.Dev == here.Dev && want.Ino == here.Ino
}

// bigBuffers sizes a connection's socket buffers as the bulk element
// socket's (setSockBuffers): a large transaction's replies must not
// overflow the receive queue.
func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil // the system's sizes, as before
	}
	return raw.Control(func(fd uintptr) { setSockBuffers(int(fd)) })
}

// newNFTOn returns the nftables backend over conn (fakeNFTConn in
// tests), writing the filter's elements on conn too; addRefreshes says
// whether adding an element that exists sets its timeout anew.
func newNFTOn(conn NFTConn, addRefreshes bool) *NFT {
	return &NFT{conn: conn, elems: conn, addRefreshes: addRefreshes}
}

func nftErr(what string, err error) error {
	return errno.Wrap(what, err, "needs root or CAP_NET_ADMIN")
}

// nftState is what the kernel holds of otpknock's table.
type nftState struct {
	table  bool
	chains map[string]*nftables.Chain
	rules  map[string][]*nftables.Rule
	sets   map[string]*nftables.Set
}

// read lists otpknock's table, chains, rules and sets.
func (n *NFT) read() (nftState, error) {
	st := nftState{chains: map[string]*nftables.Chain{}, rules: map[string][]*nftables.Rule{}, sets: map[string]*nftables.Set{}}
	tables, err := n.conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return st, nftErr("listing nftables tables", err)
	}
	st.table = slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == NFTTable })
	if !st.table {
		return st, nil
	}
	chains, err := n.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return st, nftErr("listing nftables chains", err)
	}
	for _, c := range chains {
		if c.Table.Name != NFTTable {
			continue
		}
		st.chains[c.Name] = c
		if st.rules[c.Name], err = n.conn.GetRules(nftTable(), c); err != nil {
			return st, nftErr("listing the rules of chain "+c.Name, err)
		}
	}
	sets, err := n.conn.GetSets(nftTable())
	if err != nil {
		return st, nftErr("listing the sets of table inet "+NFTTable, err)
	}
	for _, s := range sets {
		st.sets[s.Name] = s
	}
	return st, nil
}

// Setup installs the table, its sets and chains in one transaction; it
// sends nothing when the table already is as planned. A change keeps
// the grant sets (and their grants) when their type is unchanged.
func (n *NFT) Setup(p Plan) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read()
	if err != nil {
		return err
	}
	if len(diffNFT(st, p)) == 0 {
		return nil
	}
	if err := queueInstall(n.conn, st, p); err != nil {
		return err
	}
	return nftErr("installing table inet "+NFTTable, n.conn.Flush())
}

// queueInstall queues the writes that turn st into the plan's table.
func queueInstall(c NFTConn, st nftState, p Plan) error {
	t := c.AddTable(nftTable())
	want := nftChains(p)
	for name, ch := range st.chains {
		c.FlushChain(ch)
		keep := slices.ContainsFunc(want, func(w nftChain) bool { return w.name == name && sameChain(ch, w) })
		if !keep {
			c.DelChain(ch)
		}
	}
	wantSets := nftSets(t, p)
	for name, s := range st.sets {
		if !slices.ContainsFunc(wantSets, func(w *nftables.Set) bool { return w.Name == name && sameSet(s, w) }) {
			c.DelSet(s)
		}
	}
	for _, s := range wantSets {
		if old, ok := st.sets[s.Name]; !ok || !sameSet(old, s) {
			if err := c.AddSet(s, nil); err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
		}
	}
	comment := nftComment(p)
	for _, w := range want {
		ch := &nftables.Chain{Name: w.name, Table: t, Hooknum: w.hook, Priority: nftables.ChainPriorityRef(w.prio),
			Type: nftables.ChainTypeFilter, Policy: policyAccept()}
		if old, ok := st.chains[w.name]; !ok || !sameChain(old, w) {
			c.AddChain(ch)
		}
		for _, r := range w.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r, UserData: comment})
		}
	}
	return nil
}

func policyAccept() *nftables.ChainPolicy {
	p := nftables.ChainPolicyAccept
	return &p
}

func sameChain(c *nftables.Chain, w nftChain) bool {
	return c.Hooknum != nil && *c.Hooknum == *w.hook && c.Priority != nil && *c.Priority == w.prio &&
		c.Type == nftables.ChainTypeFilter && (c.Policy == nil || *c.Policy == nftables.ChainPolicyAccept)
}

func sameSet(s, w *nftables.Set) bool {
	return renderSet(s) == renderSet(w) && s.KeyType.Bytes == w.KeyType.Bytes && s.Concatenation == w.Concatenation
}

// diffNFT lists what differs between the kernel's table and the plan's.
func diffNFT(st nftState, p Plan) []string {
	if !st.table {
		return []string{"table inet " + NFTTable + " is missing"}
	}
	var out []string
	wantSets := nftSets(nftTable(), p)
	for _, s := range wantSets {
		switch old, ok := st.sets[s.Name]; {
		case !ok:
			out = append(out, "set "+s.Name+" is missing")
		case !sameSet(old, s):
			out = append(out, fmt.Sprintf("set %s is %q, want %q", s.Name, renderSet(old), renderSet(s)))
		}
	}
	for name := range st.sets {
		if !slices.ContainsFunc(wantSets, func(w *nftables.Set) bool { return w.Name == name }) {
			out = append(out, "set "+name+" is not planned")
		}
	}
	want := nftChains(p)
	for _, w := range want {
		c, ok := st.chains[w.name]
		if !ok {
			out = append(out, "chain "+w.name+" is missing")
			continue
		}
		if !sameChain(c, w) {
			out = append(out, fmt.Sprintf("chain %s: not type filter hook %s priority %d policy accept", w.name, w.name, w.prio))
		}
		out = append(out, diffRules(w, st.rules[w.name], "otpknock:"+p.NFTDigest())...)
	}
	for name := range st.chains {
		if !slices.ContainsFunc(want, func(w nftChain) bool { return w.name == name }) {
			out = append(out, "chain "+name+" is not planned")
		}
	}
	return out
}

// diffRules compares a chain's rules one by one: text and digest comment.
func diffRules(w nftChain, got []*nftables.Rule, comment string) []string {
	var out []string
	for i, r := range w.rules {
		want := renderExprs(r)
		switch {
		case i >= len(got):
			out = append(out, fmt.Sprintf("chain %s: rule %d is missing: %s", w.name, i+1, want))
		case renderExprs(got[i].Exprs) != want || ruleComment(got[i]) != comment:
			out = append(out, fmt.Sprintf("chain %s: rule %d is %q (%s), want %q (%s)", w.name, i+1,
				renderExprs(got[i].Exprs), ruleComment(got[i]), want, comment))
		}
	}
	for i := len(w.rules); i < len(got); i++ {
		out = append(out, fmt.Sprintf("chain %s: rule %d is not planned: %s", w.name, i+1, renderExprs(got[i].Exprs)))
	}
	return out
}

// Verify lists what differs between the kernel's table and the plan's:
// nil when intact.
func (n *NFT) Verify(p Plan) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read()
	if err != nil {
		return nil, err
	}
	return diffNFT(st, p), nil
}

// Grant adds src . proto . port to the family's set with timeout, in
// one transaction on the element writer (the bulk socket): from Linux
// 6.12 an add naming the expiration, which sets an existing element's
// expiry anew; on older kernels an add, a delete and an add again, so
// that a repeat refreshes the timeout. A prefix wider than one address
// goes to the family's prefix set as the interval of its first to its
// last address.
func (n *NFT) Grant(src netip.Prefix, svc derive.Knock, timeout time.Duration) error {
	src = netip.PrefixFrom(src.Addr().Unmap(), src.Bits()).Masked()
	i := 0
	if src.Addr().Is6() {
		i = 1
	}
	el := nftables.SetElement{Key: grantKey(src.Addr(), protoNum(svc.Proto), svc.Port), Timeout: timeout}
	set := nftSets(nftTable(), Plan{})[i]
	if !IsHost(src) {
		set = nftSets(nftTable(), Plan{Prefixes: true})[2+i]
		el.KeyEnd = grantKey(lastAddr(src), protoNum(svc.Proto), svc.Port)
	}
	add := []nftables.SetElement{el}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.queueRefresh(set, add); err != nil {
		return fmt.Errorf("granting %v %v: %w", src, svc, err)
	}
	return nftErr(fmt.Sprintf("adding %v . %v to set %s", src, svc, set.Name), n.elems.Flush())
}

// Close deletes the log rules only (with the filter's rules that track
// sources): the protected ports stay closed and grants expire on their
// own.
func (n *NFT) Close(Plan) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read()
	if err != nil || !st.table {
		return err
	}
	queued := false
	for _, rules := range st.rules {
		for _, r := range rules {
			if slices.ContainsFunc(r.Exprs, isLogging) {
				if err := n.conn.DelRule(r); err != nil {
					return fmt.Errorf("deleting a log rule: %w", err)
				}
				queued = true
			}
		}
	}
	if !queued {
		return nil
	}
	return nftErr("deleting the log rules", n.conn.Flush())
}

// isLogging reports whether e makes its rule part of knock logging: a
// log, or the filter's update of a tracked-source set.
func isLogging(e expr.Any) bool {
	switch e.(type) {
	case *expr.Log, *expr.Dynset:
		return true
	}
	return false
}

// Remove deletes the table with its chains, rules, sets and grants.
func (n *NFT) Remove(Plan) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read()
	if err != nil || !st.table {
		return err
	}
	n.conn.DelTable(nftTable())
	err = n.conn.Flush()
	if errors.Is(err, unix.ENOENT) {
		return nil // removed meanwhile
	}
	return nftErr("deleting table inet "+NFTTable, err)
}

// Status lists the table's rules (chain name first, in Rules4: one inet
// table serves both families) and the live grants with their time left.
func (n *NFT) Status(Plan) (Status, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.read()
	if err != nil || !st.table {
		return Status{}, err
	}
	out := Status{Installed: true}
	for _, name := range []string{NFTInput, NFTPrerouting} {
		for _, r := range st.rules[name] {
			line := name + " " + renderExprs(r.Exprs)
			if c := ruleComment(r); c != "" {
				line += fmt.Sprintf(" comment %q", c)
			}
			out.Rules4 = append(out.Rules4, line)
		}
	}
	for _, name := range []string{NFTSet4, NFTSet6, NFTNet4, NFTNet6} {
		s, ok := st.sets[name]
		if !ok {
			continue
		}
		els, err := n.conn.GetSetElements(s)
		if err != nil {
			return out, nftErr("listing set "+name, err)
		}
		for _, e := range els {
			if g, ok := grantInfo(e); ok {
				out.Grants = append(out.Grants, g)
			}
		}
	}
	return out, nil
}

func grantInfo(e nftables.SetElement) (GrantInfo, bool) {
	addr, proto, port, ok := parseGrantKey(e.Key)
	if !ok {
		return GrantInfo{}, false
	}
	r, ok := derive.ProtoByIP(proto, addr.Is6())
	if !ok {
		return GrantInfo{}, false
	}
	g := GrantInfo{Src: addr, Svc: derive.Knock{Proto: r.Proto, Port: port}, Left: e.Expires}
	if last, _, _, ok := parseGrantKey(e.KeyEnd); ok && last != addr {
		g.Net = rangePrefix(addr, last)
	}
	return g, true
}

// Probe lists the nftables tables, changing nothing: how many there are
// and whether otpknock's is one of them.
func (n *NFT) Probe() (tables int, installed bool, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	all, err := n.conn.ListTablesOfFamily(nftables.TableFamilyUnspecified)
	if err != nil {
		return 0, false, nftErr("listing nftables tables", err)
	}
	for _, t := range all {
		installed = installed || (t.Family == nftables.TableFamilyINet && t.Name == NFTTable)
	}
	return len(all), installed, nil
}

// Kind is the nftables Kind.
func (n *NFT) Kind() Kind { return nftKind{} }
