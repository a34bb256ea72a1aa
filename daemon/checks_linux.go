package daemon

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/privs"
)

// CheckPrivileges returns an error unless the process runs as root or
// holds CAP_NET_ADMIN.
func CheckPrivileges() error {
	if privs.NetAdmin() {
		return nil
	}
	return fmt.Errorf("the server needs root or CAP_NET_ADMIN (for iptables, ipset and NFLOG)")
}

// ListenersInRange lists local listening TCP sockets and bound UDP
// sockets whose port lies in the knock range of an enabled protocol: the
// firewall drops their traffic.
func ListenersInRange(p derive.Params) []string {
	var out []string
	for _, f := range []struct {
		path  string
		proto derive.Proto
		state string // "" for any
	}{{"/proc/net/tcp", derive.TCP, "0A"}, {"/proc/net/tcp6", derive.TCP, "0A"}, {"/proc/net/udp", derive.UDP, ""}, {"/proc/net/udp6", derive.UDP, ""}} {
		if !p.Protocols.Has(f.proto) {
			continue
		}
		for _, port := range localPorts(f.path, f.state) {
			if port >= p.PortMin && port <= p.PortMax {
				out = append(out, derive.Knock{Proto: f.proto, Port: port}.String())
			}
		}
	}
	return out
}

// localPorts reads the local ports of the sockets in a /proc/net table.
func localPorts(path, state string) []uint16 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []uint16
	s := bufio.NewScanner(f)
	s.Scan() // header
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 4 || (state != "" && fields[3] != state) {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if n, err := strconv.ParseUint(hexPort, 16, 16); ok && err == nil {
			out = append(out, uint16(n))
		}
	}
	return out
}
