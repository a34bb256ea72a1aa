package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Shortest prefixes a grant may open: an IPv4 /16 (a carrier's NAT
// pool is rarely wider) and an IPv6 /48 (a site).
const (
	MinGrantPrefix4 = 16
	MinGrantPrefix6 = 48
)

// GrantPrefix is how much around the granted address a user's grant
// opens, per family: 0 (unset) is the address alone, /32 or /128.
type GrantPrefix struct {
	V4 int `yaml:"v4,omitempty"`
	V6 int `yaml:"v6,omitempty"`
}

// IsZero reports whether g opens addresses alone, the default.
func (g GrantPrefix) IsZero() bool {
	return (g.V4 == 0 || g.V4 == 32) && (g.V6 == 0 || g.V6 == 128)
}

// Around returns the prefix a grant to addr opens: addr's /32 or /128
// when g sets no prefix of its family.
func (g GrantPrefix) Around(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := g.V4
	if addr.Is6() {
		bits = g.V6
	}
	if bits == 0 {
		bits = addr.BitLen()
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.PrefixFrom(addr, addr.BitLen())
	}
	return p
}

// String is the flag's form, "24,64" (32 and 128 for an unset family);
// "-" when g opens addresses alone.
func (g GrantPrefix) String() string {
	if g.IsZero() {
		return "-"
	}
	v4, v6 := g.V4, g.V6
	if v4 == 0 {
		v4 = 32
	}
	if v6 == 0 {
		v6 = 128
	}
	return fmt.Sprintf("%d,%d", v4, v6)
}

// check refuses a prefix wider than the minimum or longer than the
// family's address.
func (g GrantPrefix) check() error {
	if g.V4 != 0 && (g.V4 < MinGrantPrefix4 || g.V4 > 32) {
		return fmt.Errorf("v4: /%d: an IPv4 grant prefix must be /%d to /32", g.V4, MinGrantPrefix4)
	}
	if g.V6 != 0 && (g.V6 < MinGrantPrefix6 || g.V6 > 128) {
		return fmt.Errorf("v6: /%d: an IPv6 grant prefix must be /%d to /128", g.V6, MinGrantPrefix6)
	}
	return nil
}

// ParseGrantPrefix reads the --grant-prefix flag: "V4,V6" prefix
// lengths (24,64), or "V4" alone; the result is validated.
func ParseGrantPrefix(s string) (GrantPrefix, error) {
	var g GrantPrefix
	parts := strings.Split(s, ",")
	if len(parts) > 2 || s == "" {
		return g, fmt.Errorf("%q: want IPv4,IPv6 prefix lengths such as 24,64", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(p), "/"))
		if err != nil {
			return g, fmt.Errorf("%q: want IPv4,IPv6 prefix lengths such as 24,64", s)
		}
		if i == 0 {
			g.V4 = n
		} else {
			g.V6 = n
		}
	}
	return g, g.check()
}
