package firewall

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// HostNow looks at the calling thread's network namespace: its nftables
// tables, the legacy x_tables in use, the iptables command's variant and
// otpknock's own objects. It changes nothing.
func HostNow() Host {
	var h Host
	c, err := nftables.New()
	if err == nil {
		var tables []*nftables.Table
		if tables, err = c.ListTables(); err == nil {
			h.Tables, h.OwnTable = nativeTables(tables)
		}
	}
	if err != nil {
		h.NFTErr = nftErr("listing nftables tables", err)
	}
	for _, f := range []struct{ file, prefix string }{{"ip_tables_names", ""}, {"ip6_tables_names", "ip6 "}} {
		data, _ := os.ReadFile("/proc/thread-self/net/" + f.file)
		for _, name := range strings.Fields(string(data)) {
			h.Legacy = append(h.Legacy, f.prefix+name)
		}
	}
	if path, err := exec.LookPath("iptables"); err == nil {
		h.IptablesMode = "legacy"
		if out, err := exec.Command(path, "--version").Output(); err == nil && strings.Contains(string(out), "nf_tables") {
			h.IptablesMode = "nf_tables"
		}
	}
	if _, err := netlink.IpsetList(Set4); err == nil {
		h.OwnSets = true
	}
	return h
}

// nativeTables names the tables iptables-nft did not create, and says
// whether otpknock's own is there.
func nativeTables(tables []*nftables.Table) (native []string, own bool) {
	xtables := []string{"filter", "nat", "mangle", "raw", "security", "broute"}
	for _, t := range tables {
		fam := familyName(t.Family)
		switch {
		case t.Family == nftables.TableFamilyINet && t.Name == NFTTable:
			own = true
		case (t.Family == nftables.TableFamilyIPv4 || t.Family == nftables.TableFamilyIPv6 ||
			t.Family == nftables.TableFamilyARP || t.Family == nftables.TableFamilyBridge) && slices.Contains(xtables, t.Name):
		default:
			native = append(native, fmt.Sprintf("%s %s", fam, t.Name))
		}
	}
	return native, own
}
