// Package firewall installs and runs the server's part of the kernel
// firewall, with one of two backends that do the same job: accept
// established sessions and granted sources, log knock packets to NFLOG
// and drop everything else in the knock range and on the protected
// ports; grants are set entries with kernel timeouts, added over netlink
// with no fork or exec per grant.
//
// IPTables is the iptables backend: a chain (IPv4 and IPv6, through
// coreos/go-iptables) jumped from INPUT and one hash:ip,port ipset per
// family (vishvananda/netlink). Every rule carries a comment with a
// digest of the whole rule set, so setup is idempotent (a restart changes
// nothing when nothing changed) and a changed rule set is replaced by
// inserting the new rules in front of the old before deleting them, in
// one iptables-restore transaction per family: the chain never passes
// through an open state.
//
// NFT is the nftables backend (google/nftables, no nft binary): table
// inet otpknock with grant sets keyed by (address, protocol, port) and a
// base input chain ahead of the host's filter chains, changed only in
// whole transactions; its rules carry the digest too. It sits behind
// NFTConn, whose fake fakeNFTConn keeps a ruleset at the rule level.
//
// Closing for a daemon exit removes the NFLOG rules only, so the
// protected ports stay closed and grants expire on their own.
//
// Plan.Lock is the plan without knock rules, installed at boot and at
// the start of the daemon, before it reads secrets or state (otpknock
// firewall lock): the protected ports stay closed whatever fails later.
// Plan.Forward are protected services DNATed to a container (Docker's
// published ports), which never cross INPUT. With iptables, ForwardChain,
// jumped from DOCKER-USER (else FORWARD), matches them by conntrack's
// original destination port and accepts the sources of a per-service set
// (ForwardSet, and with Plan.Prefixes the prefixes of ForwardNetSet)
// that Grant fills beside the main one; with nftables a prerouting chain
// ahead of DNAT guards them with the same grant sets.
//
// Backend.Verify lists what of a plan is missing or changed; the daemon
// runs it every few seconds and installs the plan again. IPTables compares
// each chain with the listing its last Setup left (in a new process: by
// count, digest and iptables -C of each rule), checks the jumps and that
// the sets exist, from one iptables -S of the filter table per family. A
// missing jump goes first in INPUT; a jump that later rules precede
// stays: those are the administrator's.
//
// Below IPTables are two small seams: tables (per family: the table's
// listing, iptables -C through go-iptables, and iptables-restore
// batches) and sets (ipset over netlink). The tests' fakeTables and
// fakeSets implement them in memory at the rule and entry level,
// refusing what the kernel refuses (a jump to a missing chain, deleting
// a chain still jumped to), so sync, replace-in-front, Close, Remove and
// Verify are tested without root; the real ones run in the namespace
// tests.
//
// With Plan.Filter the NFLOG rules log a TCP SYN or UDP datagram to the
// knock range only when its port is an armed element of the current
// window or its source is tracked (Filter: ipsets with per-entry kernel
// timeouts, filled in batches over netlink), so a flood of the range
// stays in the kernel. NFT implements Filter too: set armed (protocol .
// port, and an echo request's sequence number under icmp and
// ipv6-icmp, so ICMP is filtered as well) and the dynamic source sets
// src4 and src6, updated by the rules themselves on a hit to an armed
// element; Arm and Track write their elements on a netlink socket of
// their own (nftBulk, bytes equal to google/nftables' but for the
// expiration it adds), a window in one transaction, re-adding elements
// once, with their expiration, from Linux 6.12 (the kernel keeps the
// expiry of an element added again without one; earlier kernels keep
// it in any case: each chunk is added, deleted and added again).
//
// With icmp a knock protocol, only echo requests whose sequence number
// lies in the knock range are knocks: logged (as above) and dropped,
// before conntrack's accept of established traffic (an echo request
// whose identifier matches a ping the host answered is established to
// conntrack). Other echo requests go on to the host's own rules, or,
// with Plan.DropEcho, are dropped too.
//
// The firewall knows nothing of the server's config: the daemon maps its
// config onto a Plan (daemon.FirewallPlan) and hands it over; Choose,
// Pick and Open pick the backend for the config's firewall key from
// Kinds, the table of backends. A Kind holds all that sets one backend
// apart for the commands that administer it (its name, how it renders a
// plan and a status, what its probe and Remove say), so no caller names
// a backend or holds a concrete one.
//
// Backend is the kernel boundary. firewalltest.Fake, whose state renders
// as text, is the one of tests above it, and firewalltest.Contract is
// what every Backend owes: the fake, each backend over its unprivileged
// fakes and each in network namespaces run it.
package firewall
