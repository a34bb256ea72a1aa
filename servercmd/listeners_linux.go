package servercmd

import (
	"fmt"
	"os"

	"github.com/otpknock/otpknock/derive"
)

// kernelListening reads the services this host serves from
// /proc/net/tcp, tcp6, udp and udp6 (the tables of the process's
// network namespace). A missing table (no IPv6) is skipped.
func kernelListening() (map[derive.Knock]bool, error) {
	out := map[derive.Knock]bool{}
	for _, t := range []struct {
		file  string
		proto derive.Proto
	}{{"tcp", derive.TCP}, {"tcp6", derive.TCP}, {"udp", derive.UDP}, {"udp6", derive.UDP}} {
		f, err := os.Open("/proc/net/" + t.file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listening sockets: %w", err)
		}
		err = parseProcNet(f, t.proto, out)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("listening sockets: /proc/net/%s: %w", t.file, err)
		}
	}
	return out, nil
}
