package firewall

import (
	"github.com/google/nftables"
)

// healingConn is the lasting nftables connection that reopens itself.
// After a netlink error (a receive queue that overflowed on a large
// transaction, a reply out of sequence) the socket may still hold the
// replies of the failed request, and every later request on it would
// read them and fail: the next request goes on a fresh connection from
// dial instead. It never drops queued messages: a connection with
// messages queued for a Flush is kept until that Flush, whose error
// says the transaction failed.
type healingConn struct {
	NFTConn
	dial    func() (NFTConn, error)
	broken  bool // the last kernel call failed: reopen before the next
	pending bool // messages are queued for the next Flush
}

// heal reopens a broken connection when nothing is queued on it; a
// failed reopen leaves it broken, and the call on it reports the error.
func (c *healingConn) heal() {
	if !c.broken || c.pending {
		return
	}
	fresh, err := c.dial()
	if err != nil {
		return
	}
	if old, ok := c.NFTConn.(interface{ CloseLasting() error }); ok {
		old.CloseLasting()
	}
	c.NFTConn, c.broken = fresh, false
}

// check marks the connection broken after a failed kernel call, and
// whole again after one that succeeded.
func (c *healingConn) check(err error) error {
	c.broken = err != nil
	return err
}

// queued notes a message queued for the next Flush.
func (c *healingConn) queued() { c.heal(); c.pending = true }

func (c *healingConn) ListTablesOfFamily(f nftables.TableFamily) ([]*nftables.Table, error) {
	c.heal()
	ts, err := c.NFTConn.ListTablesOfFamily(f)
	return ts, c.check(err)
}

func (c *healingConn) ListChainsOfTableFamily(f nftables.TableFamily) ([]*nftables.Chain, error) {
	c.heal()
	cs, err := c.NFTConn.ListChainsOfTableFamily(f)
	return cs, c.check(err)
}

func (c *healingConn) GetRules(t *nftables.Table, ch *nftables.Chain) ([]*nftables.Rule, error) {
	c.heal()
	rs, err := c.NFTConn.GetRules(t, ch)
	return rs, c.check(err)
}

func (c *healingConn) GetSets(t *nftables.Table) ([]*nftables.Set, error) {
	c.heal()
	ss, err := c.NFTConn.GetSets(t)
	return ss, c.check(err)
}

func (c *healingConn) GetSetElements(s *nftables.Set) ([]nftables.SetElement, error) {
	c.heal()
	es, err := c.NFTConn.GetSetElements(s)
	return es, c.check(err)
}

func (c *healingConn) AddTable(t *nftables.Table) *nftables.Table {
	c.queued()
	return c.NFTConn.AddTable(t)
}

func (c *healingConn) DelTable(t *nftables.Table) { c.queued(); c.NFTConn.DelTable(t) }

func (c *healingConn) AddChain(ch *nftables.Chain) *nftables.Chain {
	c.queued()
	return c.NFTConn.AddChain(ch)
}

func (c *healingConn) DelChain(ch *nftables.Chain)   { c.queued(); c.NFTConn.DelChain(ch) }
func (c *healingConn) FlushChain(ch *nftables.Chain) { c.queued(); c.NFTConn.FlushChain(ch) }

func (c *healingConn) AddRule(r *nftables.Rule) *nftables.Rule {
	c.queued()
	return c.NFTConn.AddRule(r)
}

func (c *healingConn) DelRule(r *nftables.Rule) error {
	c.queued()
	return c.NFTConn.DelRule(r)
}

func (c *healingConn) AddSet(s *nftables.Set, els []nftables.SetElement) error {
	c.queued()
	return c.NFTConn.AddSet(s, els)
}

func (c *healingConn) DelSet(s *nftables.Set) { c.queued(); c.NFTConn.DelSet(s) }

func (c *healingConn) SetAddElements(s *nftables.Set, els []nftables.SetElement) error {
	c.queued()
	return c.NFTConn.SetAddElements(s, els)
}

func (c *healingConn) SetDeleteElements(s *nftables.Set, els []nftables.SetElement) error {
	c.queued()
	return c.NFTConn.SetDeleteElements(s, els)
}

// Flush sends the queued transaction; after it fails, the next request
// goes on a fresh connection.
func (c *healingConn) Flush() error {
	c.heal()
	err := c.NFTConn.Flush()
	c.pending = false
	return c.check(err)
}
