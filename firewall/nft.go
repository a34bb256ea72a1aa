package firewall

// Names of the nftables backend's kernel objects: one inet table holds
// both families' grant sets and the base chains.
const (
	NFTTable = "otpknock"
	NFTSet4  = "grant4"
	NFTSet6  = "grant6"
	// NFTNet4 and NFTNet6 are the prefix grant sets (with
	// Plan.Prefixes): intervals of address . protocol . port.
	NFTNet4 = "grantnet4"
	NFTNet6 = "grantnet6"
	// NFTArmed, NFTSrc4 and NFTSrc6 are the sets of the pre-filter (with
	// Plan.Filter): the armed elements, keyed inet_proto . inet_service
	// (an ICMP element is the echo request's sequence number under
	// icmp and ipv6-icmp), and the tracked sources of each family.
	NFTArmed = "armed"
	NFTSrc4  = "src4"
	NFTSrc6  = "src6"
	NFTInput = "input"
	// NFTPrerouting guards the services of Plan.Forward (published ports
	// DNATed to containers) before DNAT changes their destination: the
	// port there is the published one the grants name. (A forward-hook
	// chain would need the conntrack original tuple, which
	// google/nftables v0.3.0 cannot read back: it decodes the kernel's
	// u8 NFTA_CT_DIRECTION as a u32.)
	NFTPrerouting = "prerouting"
	// NFTPriority is the input chain's priority, filter - 10: ahead of
	// the host's filter chains (iptables-nft, ufw, firewalld at filter
	// + 10), so otpknock's drops and logs see every packet first.
	NFTPriority = -10
	// NFTPrePriority is the prerouting chain's, dstnat - 10: before
	// Docker's or anyone's DNAT.
	NFTPrePriority = -110
)
