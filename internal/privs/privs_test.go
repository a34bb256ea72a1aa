package privs

import (
	"os"
	"testing"
)

func TestNetAdmin(t *testing.T) {
	if os.Geteuid() == 0 && !NetAdmin() {
		t.Errorf("root without NetAdmin")
	}
	if os.Geteuid() != 0 {
		t.Logf("not root: NetAdmin() = %v (depends on the process's capabilities)", NetAdmin())
	}
}
