// Package firewall installs and runs the server's part of the kernel
// firewall: an iptables chain (IPv4 and IPv6, through coreos/go-iptables)
// jumped from INPUT that accepts established sessions and granted
// sources, logs knock packets to NFLOG and drops everything else in the
// knock range and on the protected ports; and one hash:ip,port ipset per
// family whose entries (the grants) carry kernel timeouts, added over
// netlink (vishvananda/netlink) with no fork or exec per grant.
//
// Every rule carries a comment with a digest of the whole rule set, so
// setup is idempotent (a restart changes nothing when nothing changed)
// and a changed rule set is replaced by inserting the new rules in front
// of the old before deleting them: the chain never passes through an
// open state. Closing for a daemon exit removes the NFLOG rules only, so
// the protected ports stay closed and grants expire on their own.
//
// With Plan.Filter the NFLOG rules log a TCP SYN or UDP datagram to the
// knock range only when its port is an armed element of the current
// window or its source is tracked (Filter: ipsets with per-entry kernel
// timeouts, filled in batches over netlink), so a flood of the range
// stays in the kernel.
//
// The firewall knows nothing of the server's config: the daemon maps its
// config onto a Plan (daemon.FirewallPlan) and hands it over. Backend is
// the kernel boundary; Kernel is the real one and Fake, whose state
// renders as text, the one of tests.
package firewall
