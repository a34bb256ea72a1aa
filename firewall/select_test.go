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
		{"config nftables", NFTables, Host{Legacy: []string{"filter"}}, NFTables, "firewall: nftables in the config"},
		{"config iptables", IPTables, Host{OwnTable: true}, IPTables, "firewall: iptables in the config"},
		{"no nftables", Auto, Host{NFTErr: errors.New("protocol not supported"), Tables: []string{"inet x"}}, IPTables,
			"auto: nftables is unusable (protocol not supported)"},
		{"own table", Auto, Host{OwnTable: true, Legacy: []string{"filter"}}, NFTables,
			"auto: table inet otpknock exists (installed by an earlier run)"},
		{"own sets", Auto, Host{OwnSets: true, Tables: []string{"inet firewalld"}}, IPTables,
			"auto: the ipsets otpknock4 and otpknock6 exist (installed by an earlier run)"},
		{"legacy", Auto, Host{Legacy: []string{"filter", "ip6 filter"}, Tables: []string{"inet firewalld"}, IptablesMode: "nf_tables"}, IPTables,
			"auto: legacy iptables tables are in use (filter, ip6 filter)"},
		{"firewalld", Auto, Host{Tables: []string{"inet firewalld"}, IptablesMode: "legacy"}, NFTables,
			"auto: the nftables ruleset has tables of its own (inet firewalld)"},
		{"iptables-nft", Auto, Host{IptablesMode: "nf_tables"}, NFTables, "auto: iptables is iptables-nft and no legacy tables are in use"},
		{"no iptables", Auto, Host{}, NFTables, "auto: no iptables command, no legacy tables in use"},
		{"iptables-legacy", Auto, Host{IptablesMode: "legacy"}, IPTables, "auto: iptables is iptables-legacy"},
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
