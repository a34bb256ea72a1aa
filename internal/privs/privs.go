package privs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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
	ok, err := netAdminIn(f)
	return err == nil && ok
}

// errNoCapEff is returned for a status file without a CapEff line.
var errNoCapEff = errors.New("no CapEff line")

// netAdminIn reports whether the CapEff line of a /proc/<pid>/status
// file holds CAP_NET_ADMIN.
func netAdminIn(status io.Reader) (bool, error) {
	s := bufio.NewScanner(status)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return caps&(1<<capNetAdmin) != 0, nil
		}
	}
	if err := s.Err(); err != nil {
		return false, err
	}
	return false, errNoCapEff
}
