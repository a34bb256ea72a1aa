package firewall

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
)

// TestHealingConn checks that the lasting connection is reopened after
// a failed kernel call, before the next request, and never while
// messages are queued for a Flush: a reopen then would drop half a
// transaction.
func TestHealingConn(t *testing.T) {
	var dialed []*fakeNFTConn
	dial := func() (NFTConn, error) {
		c := &fakeNFTConn{}
		dialed = append(dialed, c)
		return c, nil
	}
	first := &fakeNFTConn{FlushErr: errors.New("netlink receive: recvmsg: no buffer space available")}
	c := &healingConn{NFTConn: first, dial: dial}
	table := &nftables.Table{Name: "otpknock", Family: nftables.TableFamilyINet}
	var steps []string
	step := func(what string, err error) {
		steps = append(steps, fmt.Sprintf("%s: err %v, conns dialed %d, on first %v", what, err != nil, len(dialed), c.NFTConn == NFTConn(first)))
	}

	c.AddTable(table)
	step("flush fails", c.Flush())
	c.AddTable(table) // nothing queued: a fresh connection takes it
	step("queued after the failure", nil)
	step("flush on the fresh connection", c.Flush())
	_, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	step("list", err)

	dialed[0].FlushErr = errors.New("mismatched sequence in netlink reply")
	c.AddTable(table)
	step("second failure", c.Flush())
	c.AddTable(table)
	c.broken = true // fails while a transaction is being queued
	c.AddChain(&nftables.Chain{Name: "input", Table: table})
	step("queued while broken", nil)
	step("flush of that transaction", c.Flush())
	_, err = c.ListTablesOfFamily(nftables.TableFamilyINet)
	step("list after it", err)

	want := []string{
		"flush fails: err true, conns dialed 0, on first true",
		"queued after the failure: err false, conns dialed 1, on first false",
		"flush on the fresh connection: err false, conns dialed 1, on first false",
		"list: err false, conns dialed 1, on first false",
		"second failure: err true, conns dialed 1, on first false",
		"queued while broken: err false, conns dialed 2, on first false",
		"flush of that transaction: err false, conns dialed 2, on first false",
		"list after it: err false, conns dialed 2, on first false",
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}
