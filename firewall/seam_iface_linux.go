package firewall

import (
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// tables is the seam under IPTables for one family's iptables, in
// iptables' words: a rule is its argument list, a listing the lines of
// iptables -S. The real one (newTables) runs go-iptables for -C and
// iptables -S and iptables-restore; fakeTables keeps chains of rules in
// memory.
type tables interface {
	// ListTable returns the whole table as iptables -S shows it: the
	// chains ("-P CHAIN POLICY", "-N CHAIN"), then their rules.
	ListTable(table string) ([]string, error)
	// Exists reports whether chain holds rule (iptables -C).
	Exists(table, chain string, rule ...string) (bool, error)
	// Restore applies lines to the table in one transaction, all or
	// nothing (iptables-restore --noflush): ":CHAIN - [0:0]" creates a
	// chain; "-I CHAIN N rule...", "-A CHAIN rule...", "-D CHAIN N",
	// "-F CHAIN" and "-X CHAIN" as iptables has them.
	Restore(table string, lines []string) error
}

// sets is the seam under IPTables for the ipsets over netlink
// (vishvananda/netlink): the real one is netlinkSets, the fake
// fakeSets.
type sets interface {
	// Create makes a set of typ ("hash:ip,port", "hash:net,port",
	// "hash:ip" or "hash:net") for the family with a default entry
	// timeout; os.ErrExist when it exists.
	Create(name, typ string, v6 bool, timeout time.Duration) error
	// Add adds or replaces an entry with its timeout.
	Add(name string, e setEntry) error
	// Del deletes an entry (its timeout aside); os.ErrNotExist when
	// the set is missing.
	Del(name string, e setEntry) error
	// List returns a set's entries; os.ErrNotExist when it is missing.
	List(name string) ([]setEntry, error)
	// Destroy deletes a set; os.ErrNotExist when it is missing.
	Destroy(name string) error
	// Names lists every set of the namespace.
	Names() ([]string, error)
}

// setEntry is one member of a set: an address (with its prefix length
// in a hash:net set), with a service in a hash:ip,port or hash:net,port
// set (zero in a hash:ip or hash:net set), and its timeout (the time
// left when listed).
type setEntry struct {
	Addr    netip.Addr
	Bits    int // a hash:net or hash:net,port entry's prefix length; 0: Addr alone
	Svc     derive.Knock
	Timeout time.Duration
}
