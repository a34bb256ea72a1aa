package firewall

import (
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// tables is the seam under Kernel for one family's iptables: the calls
// of coreos/go-iptables it makes, in its words (a rule is its argument
// list; List returns iptables -S lines). The real one is go-iptables
// (newTables); fakeTables keeps chains of rules in memory.
type tables interface {
	// ChainExists reports whether table holds chain.
	ChainExists(table, chain string) (bool, error)
	// NewChain creates an empty chain.
	NewChain(table, chain string) error
	// List returns chain as iptables -S shows it: "-N CHAIN" or
	// "-P CHAIN POLICY", then one "-A CHAIN ..." line per rule. A missing
	// chain is an error matching os.ErrNotExist.
	List(table, chain string) ([]string, error)
	// ListTable returns the whole table as iptables -S shows it: the
	// chains ("-P CHAIN POLICY", "-N CHAIN"), then their rules. The
	// periodic check reads it, one iptables run per family.
	ListTable(table string) ([]string, error)
	// Exists reports whether chain holds rule (iptables -C).
	Exists(table, chain string, rule ...string) (bool, error)
	// Insert puts rule at position pos (from 1).
	Insert(table, chain string, pos int, rule ...string) error
	// DeleteById deletes the rule at position pos (from 1).
	DeleteById(table, chain string, pos int) error
	// DeleteIfExists deletes the first rule equal to rule, if any.
	DeleteIfExists(table, chain string, rule ...string) error
	// ClearAndDeleteChain empties and deletes chain; nothing when it is
	// missing.
	ClearAndDeleteChain(table, chain string) error
}

// sets is the seam under Kernel for the ipsets over netlink
// (vishvananda/netlink): the real one is netlinkSets, the fake
// fakeSets.
type sets interface {
	// Create makes a set of typ ("hash:ip,port" or "hash:ip") for the
	// family with a default entry timeout; os.ErrExist when it exists.
	Create(name, typ string, v6 bool, timeout time.Duration) error
	// Add adds or replaces an entry with its timeout.
	Add(name string, e setEntry) error
	// List returns a set's entries; os.ErrNotExist when it is missing.
	List(name string) ([]setEntry, error)
	// Destroy deletes a set; os.ErrNotExist when it is missing.
	Destroy(name string) error
	// Names lists every set of the namespace.
	Names() ([]string, error)
}

// setEntry is one member of a set: an address, with a service in a
// hash:ip,port set (zero in a hash:ip set), and its timeout (the time
// left when listed).
type setEntry struct {
	Addr    netip.Addr
	Svc     derive.Knock
	Timeout time.Duration
}
