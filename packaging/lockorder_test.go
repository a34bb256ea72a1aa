package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const lockUnit = "otpknock-lock.service"

// firewallUnits are the [Unit] sections of the host firewall units the
// distributions ship (Debian's nftables, netfilter-persistent and ufw;
// Fedora's iptables, ip6tables and firewalld), ordering lines only. Each
// loads its ruleset at boot, and all but firewalld's nftables mode start
// by flushing what is there: the lock must come after them.
var firewallUnits = map[string]string{
	"nftables.service": `DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target`,
	"netfilter-persistent.service": `DefaultDependencies=no
Wants=network-pre.target systemd-modules-load.service local-fs.target
Before=network-pre.target shutdown.target
After=systemd-modules-load.service local-fs.target
Conflicts=shutdown.target`,
	"ufw.service": `DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target local-fs.target
After=local-fs.target`,
	"iptables.service": `Before=network-pre.target
Wants=network-pre.target`,
	"ip6tables.service": `Before=network-pre.target
Wants=network-pre.target`,
	"firewalld.service": `Before=network-pre.target
Wants=network-pre.target
After=dbus.service
After=polkit.service`,
}

// unitDeps returns the values of key in the [Unit] section of a unit
// file, split on spaces, across all its lines.
func unitDeps(unit, key string) []string {
	var out []string
	section := ""
	for _, l := range strings.Split(unit, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if v, ok := strings.CutPrefix(l, key+"="); ok && section == "[Unit]" {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}

// order is the graph of "starts before" between units, from their
// Before= and After= lines.
type order map[string][]string

func (o order) add(name, unit string) {
	o[name] = append(o[name], unitDeps(unit, "Before")...)
	for _, a := range unitDeps(unit, "After") {
		o[a] = append(o[a], name)
	}
}

// before reports whether a starts before b: a path from a to b.
func (o order) before(a, b string) bool {
	seen := map[string]bool{}
	stack := []string{a}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, m := range o[n] {
			if m == b {
				return true
			}
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	return false
}

func readLock(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(lockUnit)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestLockAfterHostFirewalls checks that the lock runs after every host
// firewall unit and before network-pre.target: a firewall unit that loads
// its ruleset after the lock (nft -f with "flush ruleset",
// iptables-restore) would delete the lock and open the protected ports
// until the server starts. A restart of the firewall unit restarts the
// lock (PartOf=), after it.
func TestLockAfterHostFirewalls(t *testing.T) {
	lock := readLock(t)
	o := order{}
	o.add(lockUnit, lock)
	for name, unit := range firewallUnits {
		o.add(name, "[Unit]\n"+unit)
	}
	for name := range firewallUnits {
		t.Run(name, func(t *testing.T) {
			if !slices.Contains(unitDeps(lock, "After"), name) {
				t.Errorf("%s has no After=%s", lockUnit, name)
			}
			if !slices.Contains(unitDeps(lock, "PartOf"), name) {
				t.Errorf("%s has no PartOf=%s: a restart of %s would leave the lock deleted", lockUnit, name, name)
			}
			if !o.before(name, lockUnit) {
				t.Errorf("%s does not start before %s", name, lockUnit)
			}
			if o.before(lockUnit, name) {
				t.Errorf("%s starts before %s", lockUnit, name)
			}
		})
	}
	if !o.before(lockUnit, "network-pre.target") {
		t.Errorf("%s does not start before network-pre.target", lockUnit)
	}
	if !o.before(lockUnit, "otpknock.service") {
		t.Errorf("%s does not start before otpknock.service", lockUnit)
	}
}

// TestLockUnitVerifies runs systemd-analyze verify on a boot that starts
// the lock and each host firewall together: no error, and no ordering
// cycle (which systemd would break by dropping a job, perhaps the lock's).
func TestLockUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("OTPKNOCK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("systemd-analyze not installed")
		}
		t.Skip("systemd-analyze not installed")
	}
	for name, unit := range firewallUnits {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			lock := strings.ReplaceAll(readLock(t), "/usr/bin/otpknockd firewall lock", "/bin/true")
			write(t, dir, lockUnit, lock)
			write(t, dir, name, "[Unit]\n"+unit+"\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
			write(t, dir, "otpknock-boot.target", "[Unit]\nWants="+name+" "+lockUnit+"\n")
			out, err := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, "otpknock-boot.target")).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
			}
			if strings.Contains(string(out), "ordering cycle") || strings.Contains(string(out), lockUnit) {
				t.Errorf("systemd-analyze verify:\n%s", out)
			}
		})
	}
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
