package e2e

import (
	"os"
	"slices"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// bins are otpknock and otpknockd, built for this package's tests in a
// directory every user may enter (tests run them as nobody too).
var bins netnstest.Binaries

func TestMain(m *testing.M) { os.Exit(netnstest.RunWithBinaries(m, &bins)) }

// program is the binary that runs args: otpknockd the server's commands
// (init, user, server, firewall), otpknock the client's.
func program(args ...string) string {
	if len(args) > 0 && slices.Contains([]string{"init", "user", "server", "firewall"}, args[0]) {
		return bins.Server
	}
	return bins.Client
}
