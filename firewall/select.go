package firewall

import (
	"fmt"
	"strings"
)

// The values of the config's firewall key.
const (
	ModeAuto     = "auto"
	ModeNFTables = "nftables"
	ModeIPTables = "iptables"
)

// Host is what auto looks at to choose a backend.
type Host struct {
	NFTErr       error    // nftables over netlink unusable (no kernel support, no privilege)
	OwnTable     bool     // table inet otpknock exists: an earlier run used nftables
	OwnSets      bool     // otpknock's ipsets exist: an earlier run used iptables
	Tables       []string // nftables tables iptables-nft did not create ("inet firewalld")
	Legacy       []string // legacy x_tables in use ("filter", "ip6 filter")
	IptablesMode string   // iptables' variant: "nf_tables", "legacy", "" when absent
}

// Choose returns the backend (ModeNFTables or ModeIPTables) for the config's
// mode and why, in one line. auto keeps the backend an earlier run
// installed; else it takes iptables where legacy iptables tables are in
// use or nftables is unusable, and nftables where the ruleset is
// nftables-native: tables of its own, or iptables-nft with no legacy
// tables.
func Choose(mode string, h Host) (string, string) {
	switch mode {
	case ModeNFTables, ModeIPTables:
		return mode, "firewall: " + mode + " in the config"
	}
	switch {
	case h.NFTErr != nil:
		return ModeIPTables, fmt.Sprintf("auto: nftables is unusable (%v)", h.NFTErr)
	case h.OwnTable:
		return ModeNFTables, "auto: table inet " + NFTTable + " exists (installed by an earlier run)"
	case h.OwnSets:
		return ModeIPTables, "auto: the ipsets " + Set4 + " and " + Set6 + " exist (installed by an earlier run)"
	case len(h.Legacy) > 0:
		return ModeIPTables, "auto: legacy iptables tables are in use (" + strings.Join(h.Legacy, ", ") + ")"
	case len(h.Tables) > 0:
		return ModeNFTables, "auto: the nftables ruleset has tables of its own (" + strings.Join(h.Tables, ", ") + ")"
	case h.IptablesMode == "nf_tables":
		return ModeNFTables, "auto: iptables is iptables-nft and no legacy tables are in use"
	case h.IptablesMode == "":
		return ModeNFTables, "auto: no iptables command, no legacy tables in use"
	}
	return ModeIPTables, "auto: iptables is iptables-legacy"
}
