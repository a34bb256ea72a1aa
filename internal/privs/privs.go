// Package privs tells whether the process may administer the network:
// root, or the CAP_NET_ADMIN capability in its effective set.
package privs

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// capNetAdmin is CAP_NET_ADMIN's bit in the capability sets.
const capNetAdmin = 12

// NetAdmin reports whether the process runs as root or holds
// CAP_NET_ADMIN (read from /proc/self/status; false where unreadable).
func NetAdmin() bool {
	if os.Geteuid() == 0 {
		return true
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<capNetAdmin) != 0
		}
	}
	return false
}
