package firewall

import (
	"errors"
	"testing"
)

func TestChoose(t *testing.T) {
	tests := []struct {
		name, mode string
		host       Host
		kind, why  string
	}{
		{"config nftables", ModeNFTables, Host{Legacy: []string{"filter"}}, ModeNFTables, "firewall: nftables in the config"},
		{"config iptables", ModeIPTables, Host{OwnTable: true}, ModeIPTables, "firewall: iptables in the config"},
		{"no nftables", ModeAuto, Host{NFTErr: errors.New("protocol not supported"), Tables: []string{"inet x"}}, ModeIPTables,
			"auto: nftables is unusable (protocol not supported)"},
		{"own table", ModeAuto, Host{OwnTable: true, Legacy: []string{"filter"}}, ModeNFTables,
			"auto: table inet otpknock exists (installed by an earlier run)"},
		{"own sets", ModeAuto, Host{OwnSets: true, Tables: []string{"inet firewalld"}}, ModeIPTables,
			"auto: the ipsets otpknock4 and otpknock6 exist (installed by an earlier run)"},
		{"legacy", ModeAuto, Host{Legacy: []string{"filter", "ip6 filter"}, Tables: []string{"inet firewalld"}, IptablesMode: "nf_tables"}, ModeIPTables,
			"auto: legacy iptables tables are in use (filter, ip6 filter)"},
		{"firewalld", ModeAuto, Host{Tables: []string{"inet firewalld"}, IptablesMode: "legacy"}, ModeNFTables,
			"auto: the nftables ruleset has tables of its own (inet firewalld)"},
		{"iptables-nft", ModeAuto, Host{IptablesMode: "nf_tables"}, ModeNFTables, "auto: iptables is iptables-nft and no legacy tables are in use"},
		{"no iptables", ModeAuto, Host{}, ModeNFTables, "auto: no iptables command, no legacy tables in use"},
		{"iptables-legacy", ModeAuto, Host{IptablesMode: "legacy"}, ModeIPTables, "auto: iptables is iptables-legacy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, why := Choose(tt.mode, tt.host)
			if kind != tt.kind || why != tt.why {
				t.Errorf("Choose = %s, %q; want %s, %q", kind, why, tt.kind, tt.why)
			}
		})
	}
}
