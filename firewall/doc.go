// Package firewall installs and runs the server's part of the kernel
// firewall, with one of two backends that do the same job: accept
// established sessions and granted sources, log knock packets to NFLOG
// and drop everything else in the knock range and on the protected
// ports; grants are set entries with kernel timeouts, added over netlink
// with no fork or exec per grant.
//
// Kernel is the iptables backend: a chain (IPv4 and IPv6, through
// coreos/go-iptables) jumped from INPUT and one hash:ip,port ipset per
// family (vishvananda/netlink). Every rule carries a comment with a
// digest of the whole rule set, so setup is idempotent (a restart changes
// nothing when nothing changed) and a changed rule set is replaced by
// inserting the new rules in front of the old before deleting them: the
// chain never passes through an open state.
//
// NFT is the nftables backend (google/nftables, no nft binary): table
// inet otpknock with grant sets keyed by (address, protocol, port) and a
// base input chain ahead of the host's filter chains, changed only in
// whole transactions; its rules carry the digest too. It sits behind
// NFTConn, whose fake NFTFake keeps a ruleset at the rule level.
//
// Closing for a daemon exit removes the NFLOG rules only, so the
// protected ports stay closed and grants expire on their own. Verify
// lists what differs from the plan, for the daemon's self-check.
//
// The firewall knows nothing of the server's config: the daemon maps its
// config onto a Plan (daemon.FirewallPlan) and hands it over; Choose and
// Open pick the backend for the config's firewall key. Backend is the
// kernel boundary; Fake, whose state renders as text, is the one of
// tests above it.
package firewall
