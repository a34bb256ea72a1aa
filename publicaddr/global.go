package publicaddr

import "net/netip"

// notGlobal lists the blocks of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries whose "Globally Reachable" is False or N/A.
var notGlobal = prefixes(
	// IPv4 (RFC 6890 and updates).
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
	// IPv6.
	"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64",
	"2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
)

// globalInside lists the blocks the registries mark globally reachable
// inside a larger block that is not.
var globalInside = prefixes(
	"192.0.0.9/32", "192.0.0.10/32",
	"2001:1::1/128", "2001:1::2/128", "2001:1::3/128", "2001:3::/32", "2001:4:112::/48",
	"2001:20::/28", "2001:30::/28",
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Global reports whether a is a globally reachable unicast address: a
// unicast address outside every block the IANA IPv4 and IPv6
// Special-Purpose Address Registries mark as not globally reachable
// (private, shared CGNAT space, loopback, link-local, documentation,
// benchmarking, ULA, ...), or inside one of the exceptions they mark
// reachable. An IPv4-mapped IPv6 address is judged as its IPv4 address.
func Global(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range globalInside {
		if p.Contains(a) {
			return true
		}
	}
	for _, p := range notGlobal {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
