package firewall

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
)

// TestNativeTables: the tables iptables-nft creates do not make a
// ruleset nftables-native; any other does, otpknock's own aside.
func TestNativeTables(t *testing.T) {
	tables := []*nftables.Table{
		{Name: "filter", Family: nftables.TableFamilyIPv4}, {Name: "nat", Family: nftables.TableFamilyIPv6},
		{Name: "filter", Family: nftables.TableFamilyBridge}, {Name: "otpknock", Family: nftables.TableFamilyINet},
		{Name: "firewalld", Family: nftables.TableFamilyINet}, {Name: "filter", Family: nftables.TableFamilyINet},
		{Name: "docker-bridges", Family: nftables.TableFamilyIPv4},
	}
	native, own := nativeTables(tables)
	if diff := cmp.Diff([]string{"inet firewalld", "inet filter", "ip docker-bridges"}, native); diff != "" || !own {
		t.Errorf("nativeTables own=%v (-want +got):\n%s", own, diff)
	}
	if _, own := nativeTables(tables[:3]); own {
		t.Errorf("own table found where there is none")
	}
}
