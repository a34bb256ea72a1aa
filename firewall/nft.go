package firewall

// Names of the nftables backend's kernel objects: one inet table holds
// both families' grant sets and the base chains.
const (
	NFTTable   = "otpknock"
	NFTSet4    = "grant4"
	NFTSet6    = "grant6"
	NFTInput   = "input"
	NFTForward = "forward"
	// NFTPriority is the base chains' priority, filter - 10: ahead of
	// the host's filter chains (iptables-nft, ufw, firewalld at filter
	// + 10), so otpknock's drops and logs see every packet first.
	NFTPriority = -10
)
