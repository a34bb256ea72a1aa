package e2e

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

const (
	unitFile     = "../packaging/otpknock.service"
	lockUnitFile = "../packaging/otpknock-lock.service"
)

// unitCaps returns the unit's AmbientCapabilities as setpriv wants them:
// "+net_admin,+net_raw".
func unitCaps(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "AmbientCapabilities="); ok {
			var caps []string
			for _, c := range strings.Fields(v) {
				caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
			}
			return strings.Join(caps, ",")
		}
	}
	t.Fatalf("%s has no AmbientCapabilities", unitFile)
	return ""
}

// TestSystemdUnit checks the units with systemd-analyze: they verify
// together, and their offline security exposure stays at "OK" (2.5 or
// less).
func TestSystemdUnit(t *testing.T) {
	netnstest.Require(t, "systemd-analyze")
	dir := t.TempDir()
	for _, f := range []string{unitFile, lockUnitFile} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(strings.NewReplacer("/usr/bin/otpknockd", bins.Server, "/usr/bin/otpknock", bins.Client).Replace(string(data))), 0o644)
	}
	for _, name := range []string{"otpknock.service", "otpknock-lock.service"} {
		t.Run(name, func(t *testing.T) { checkUnit(t, filepath.Join(dir, name)) })
	}
}

func checkUnit(t *testing.T, unit string) {
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", unit).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.5 {
		t.Errorf("exposure level %.1f, want 2.5 or less:\n%s", level, out)
	}
}

// TestServerLeastPrivilege runs the server as nobody with exactly the
// unit's capabilities and checks that a knock opens the port.
func TestServerLeastPrivilege(t *testing.T) {
	netnstest.Require(t, "setpriv", "iptables", "ip6tables")
	caps := unitCaps(t)
	p := netnstest.NewPair(t)
	dir, err := os.MkdirTemp("", "otpknock-lp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	w := &world{t: t, p: p, cfg: filepath.Join(dir, "etc", "config.yaml"), store: filepath.Join(dir, "client", "client.yaml")}
	w.must(p.Server, "init", "-c", w.cfg, "--server-id", "lp", "--host", p.ServerV4.String(), "--state-file", filepath.Join(dir, "state", "state.json"))
	uri := regexp.MustCompile(`otpauth://\S+`).FindString(w.must(p.Server, "user", "add", "alice", "-c", w.cfg, "--open", "tcp/2222", "--no-qr"))
	imp := p.Cmd(p.Client, bins.Client, "import", "-", "--name", "alice")
	imp.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
	imp.Stdin = strings.NewReader(uri)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	filepath.Walk(filepath.Join(dir, "etc"), func(f string, _ os.FileInfo, _ error) error { return os.Lchown(f, nobody, nobody) })
	os.MkdirAll(filepath.Join(dir, "state"), 0o700)
	os.Lchown(filepath.Join(dir, "state"), nobody, nobody)
	go netnstest.AcceptAll(p.Listen(t, p.Server, "tcp", "[::]:2222"))

	w.log = &netnstest.Buffer{}
	w.server = p.Cmd(p.Server, "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
		"--inh-caps=-all,"+caps, "--ambient-caps=-all,"+caps, "--bounding-set=-all,"+caps, "--", bins.Server, "server", "-c", w.cfg)
	w.server.Stderr = w.log
	if err := w.server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { w.server.Process.Kill(); w.server.Wait() }()
	w.waitLog("msg=started")
	status := procStatus(t, w.server.Process.Pid)
	if status["Uid"] != "65534" || status["CapEff"] != "0000000000003000" {
		t.Fatalf("server runs as uid %s with CapEff %s, want 65534 and CAP_NET_ADMIN|CAP_NET_RAW only", status["Uid"], status["CapEff"])
	}
	if _, _, err := w.knock("alice", 2222); err != nil {
		t.Fatalf("knock on the unprivileged server: %v\n%s", err, w.log)
	}
	w.waitLog("msg=grant src=198.18.0.2 user=alice")
	if !w.open(netip.Addr{}, p.ServerV4, 2222) {
		t.Errorf("port closed after the grant")
	}
}

// procStatus reads the first field of each line of /proc/PID/status of
// the process setpriv became: otpknockd, once setpriv has exec'd it.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	var out map[string]string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		out = map[string]string{}
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, _ := strings.Cut(s.Text(), ":")
			if fs := strings.Fields(v); len(fs) > 0 {
				out[k] = fs[0]
			}
		}
		f.Close()
		if out["Name"] == "otpknockd" {
			return out
		}
	}
	t.Fatalf("process %d never became otpknockd: %v", pid, out)
	return nil
}

// TestMaintainerScripts checks the packages' scripts against their
// promises: never enable or start the server, never change the firewall
// but through otpknockd firewall remove, and tear down on removal.
func TestMaintainerScripts(t *testing.T) {
	forbidden := []struct{ name, re string }{
		{"enables the unit", `\benable\b`},
		{"starts the server", `(^|[^-])\b(start|restart|reload-or-restart)\b`},
		{"calls the firewall tools", `\b(iptables|ip6tables|ipset|nft)\b`},
	}
	common, err := os.ReadFile("../packaging/common.sh")
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob("../packaging/[dr][ep][bm]/*")
	if len(scripts) != 6 {
		t.Fatalf("maintainer scripts %v, want 3 for the .deb and 3 for the .rpm", scripts)
	}
	for _, f := range append(scripts, "../packaging/common.sh") {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if f != "../packaging/common.sh" && !strings.Contains(string(data), "\n@COMMON@\n") {
				t.Errorf("no @COMMON@ line: package.sh would not paste common.sh")
			}
			for i, l := range strings.Split(string(data), "\n") {
				code, _, _ := strings.Cut(l, "#")
				code = strings.ReplaceAll(code, `"otpknock: `, `"`) // messages may name things
				if strings.HasPrefix(strings.TrimSpace(code), "echo") {
					continue
				}
				for _, fb := range forbidden {
					if regexp.MustCompile(fb.re).MatchString(code) {
						t.Errorf("line %d %s: %s", i+1, fb.name, l)
					}
				}
			}
		})
	}
	for _, tc := range []struct{ file, want string }{
		{"deb/prerm", "remove | deconfigure) otpknock_teardown deb-systemd-invoke ;;"},
		{"rpm/preun", "\totpknock_teardown systemctl\n"},
		{"deb/postrm", "\totpknock_purge\n"},
		{"deb/postinst", "\totpknock_setup\n"},
		{"rpm/post", "\notpknock_setup\n"},
	} {
		data, err := os.ReadFile("../packaging/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), tc.want) {
			t.Errorf("%s lacks %q", tc.file, tc.want)
		}
	}
	if !strings.Contains(string(common), "otpknockd firewall remove --config /etc/otpknock/config.yaml") {
		t.Errorf("common.sh's teardown does not run otpknockd firewall remove")
	}
}
