package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemoNeedsLittle: make demo installs only what the demo runs
// (iproute2, python3), not the test toolchain; make test, make deps and
// the full set still have all of it.
func TestDemoNeedsLittle(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dry := func(target string) string {
		out, err := exec.Command("make", "-C", "..", "-n", target).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	list := func(set string) []string {
		out, err := exec.Command("../scripts/deps.sh", "--list", set).Output()
		if err != nil {
			t.Fatalf("deps.sh --list %s: %v", set, err)
		}
		return strings.Fields(string(out))
	}
	if out := dry("demo"); !strings.Contains(out, "scripts/deps.sh demo\n") || strings.Contains(out, "scripts/deps.sh all") {
		t.Errorf("make demo does not install the demo set alone:\n%s", out)
	}
	for _, target := range []string{"test", "deps"} {
		if out := dry(target); !strings.Contains(out, "scripts/deps.sh all\n") {
			t.Errorf("make %s does not install the full set:\n%s", target, out)
		}
	}
	demo, all := strings.Join(list("demo"), " "), strings.Join(list("all"), " ")
	for _, heavy := range []string{"nmap", "hping3", "lintian", "rpm", "tmux", "tcpdump", "netsniff-ng"} {
		if strings.Contains(demo, ":"+heavy) {
			t.Errorf("the demo set installs %s: %s", heavy, demo)
		}
		if !strings.Contains(all, ":"+heavy) {
			t.Errorf("the full set lacks %s: %s", heavy, all)
		}
	}
	for _, need := range []string{"python3:python3", "ip:iproute2"} {
		if !strings.Contains(demo, need) {
			t.Errorf("the demo set lacks %s: %s", need, demo)
		}
	}
}
