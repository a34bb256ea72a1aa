//go:build linux

package attack

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// setSize is the entries of the server's ipset name.
func (a *arena) setSize(name string) int {
	a.t.Helper()
	m := regexp.MustCompile(`Number of entries: (\d+)`).FindStringSubmatch(a.l.MustRun(a.t, a.l.Server, "ipset", "-t", "list", name))
	if m == nil {
		a.t.Fatalf("ipset list %s: no count of entries", name)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// setHeader is the header line of the server's ipset name: type
// parameters, hash size, maximum of elements.
func (a *arena) setHeader(name string) string {
	a.t.Helper()
	m := regexp.MustCompile(`Header: (.*)`).FindStringSubmatch(a.l.MustRun(a.t, a.l.Server, "ipset", "-t", "list", name))
	if m == nil {
		a.t.Fatalf("ipset list %s: no header", name)
	}
	return m[1]
}

// setCapacity is the most entries the server's hash ipset name can
// hold without a resize, which only user space can cause: its hash
// size times its bucket size (12 unless the header names one), at
// most its maximum of elements.
func (a *arena) setCapacity(name string) int {
	h := a.setHeader(name)
	num := func(key string, def int) int {
		if m := regexp.MustCompile(key + ` (\d+)`).FindStringSubmatch(h); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return def
	}
	return min(num("hashsize", 0)*num("bucketsize", 12), num("maxelem", 0))
}

// foreignGrants returns the members of the server's grant sets
// (otpknock4, otpknock6) whose address is not one of honest.
func (a *arena) foreignGrants(honest ...netip.Addr) []string {
	a.t.Helper()
	var out []string
	for _, set := range []string{"otpknock4", "otpknock6"} {
		_, members, _ := strings.Cut(a.l.MustRun(a.t, a.l.Server, "ipset", "list", set), "Members:\n")
		for line := range strings.Lines(members) {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			addr, _, _ := strings.Cut(f[0], ",")
			if ip, err := netip.ParseAddr(addr); err != nil || !containsAddr(honest, ip) {
				out = append(out, set+": "+strings.TrimSpace(line))
			}
		}
	}
	return out
}

func containsAddr(addrs []netip.Addr, a netip.Addr) bool {
	for _, b := range addrs {
		if b == a.Unmap() {
			return true
		}
	}
	return false
}

var grantSrcRE = regexp.MustCompile(`msg=grant src=(\S+) `)

// foreignGrantLines returns the grant lines of the server's log whose
// source is not one of honest.
func (a *arena) foreignGrantLines(honest ...netip.Addr) []string {
	var out []string
	for line := range strings.Lines(a.log.String()) {
		m := grantSrcRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if ip, err := netip.ParseAddr(m[1]); err != nil || !containsAddr(honest, ip) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}
