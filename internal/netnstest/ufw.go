package netnstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// EnableUFW runs ufw inside namespace ns only: `ip netns exec` mounts
// /etc/netns/NS/X over /etc/X, so ufw there reads and writes its own
// copies of /etc/ufw and /etc/default (no sysctl file, no modules) and
// its iptables calls land in ns. It sets the default deny incoming,
// allows each of allow ("2222/tcp") and enables ufw. t.Cleanup removes
// the copies; the host's ufw and firewall stay untouched.
func (p *Pair) EnableUFW(t testing.TB, ns string, allow ...string) {
	t.Helper()
	etc := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	for _, dir := range []string{"/etc/ufw", "/etc/default"} {
		if out, err := exec.Command("cp", "-a", dir, etc+"/").CombinedOutput(); err != nil {
			t.Fatalf("copying %s: %v\n%s", dir, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(etc, "ufw", "sysctl.none"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(etc, "default", "ufw")
	data, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "IPT_SYSCTL="):
			l = "IPT_SYSCTL=/etc/ufw/sysctl.none"
		case strings.HasPrefix(l, "IPT_MODULES="):
			l = `IPT_MODULES=""`
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(def, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	p.MustRun(t, ns, "ufw", "default", "deny", "incoming")
	for _, a := range allow {
		p.MustRun(t, ns, "ufw", "allow", a)
	}
	p.MustRun(t, ns, "ufw", "--force", "enable")
}
