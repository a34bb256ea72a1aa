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
// of the old before deleting them, in one iptables-restore transaction
// per family: the chain never passes through an open state. Closing for a daemon exit removes the NFLOG rules only, so
// the protected ports stay closed and grants expire on their own.
//
// Plan.Lock is the plan without knock rules, installed at boot and at
// the start of the daemon, before it reads secrets or state (otpknock
// firewall lock): the protected ports stay closed whatever fails later.
// Plan.Forward are protected services DNATed to a container (Docker's
// published ports), which never cross INPUT: ForwardChain, jumped from
// DOCKER-USER (else FORWARD), matches them by conntrack's original
// destination port and accepts the sources of a per-service set
// (ForwardSet) that Grant fills beside the main one.
//
// Backend.Verify lists what of a plan is missing or changed; the daemon
// runs it every few seconds and installs the plan again. Kernel compares
// each chain with the listing its last Setup left (in a new process: by
// count, digest and iptables -C of each rule), checks the jumps and that
// the sets exist, from one iptables -S of the filter table per family
// (BenchmarkVerify: about 40 ms a check on a loaded 2-core machine with
// iptables-nft). A missing jump goes first in INPUT; a jump that later
// rules precede stays: those are the administrator's.
//
// Below Kernel are two small seams: tables (per family: the table's
// listing, iptables -C through go-iptables, and iptables-restore
// batches) and sets (ipset over netlink). fakeTables and fakeSets
// implement them in memory at the rule and entry level, refusing what
// the kernel refuses (a jump to a missing chain, deleting a chain still
// jumped to), so sync, replace-in-front, Close, Remove and Verify are
// tested without root; the real ones run in the namespace tests.
//
// The firewall knows nothing of the server's config: the daemon maps its
// config onto a Plan (daemon.FirewallPlan) and hands it over. Backend is
// the kernel boundary; Kernel is the real one and Fake, whose state
// renders as text, the one of tests.
package firewall
