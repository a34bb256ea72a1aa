package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// requireTool skips the test when tool is not installed, naming it;
// with OTPKNOCK_REQUIRE_INTEGRATION=1 (CI, after make deps installed
// the full set) it fails instead. The test needs no root.
func requireTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if os.Getenv(netnstest.EnvRequire) == "1" {
		t.Fatalf("needs %s (package %s; make deps installs it), and %s=1 forbids skipping", tool, pkg, netnstest.EnvRequire)
	}
	t.Skipf("needs %s (package %s; make deps installs it)", tool, pkg)
	return ""
}

// arm64Client builds otpknock for linux/arm64, static, as the release
// archive holds it (the build cache keeps reruns fast).
func arm64Client(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "otpknock")
	cmd := exec.Command("go", "build", "-o", bin, netnstest.ClientPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for linux/arm64: %v\n%s", err, out)
	}
	return bin
}

var stepRE = regexp.MustCompile(`step (\d+)`)

// TestArm64Client runs the linux/arm64 client, the one Termux on
// Android runs, under qemu-user: import of a URI file, show, send
// --dry-run, the tui in tmux, and tui --help. show and the dry run must print what the
// host's build prints in the same step: the same derivation on arm64.
// The profile's host is a name, which a dry run does not resolve, so
// nothing touches the network.
func TestArm64Client(t *testing.T) {
	qemu := requireTool(t, "qemu-aarch64-static", "qemu-user-static")
	arm := arm64Client(t)
	store := filepath.Join(t.TempDir(), "client.yaml")
	run := func(bin string, args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		if bin == arm {
			cmd = exec.Command(qemu, append([]string{arm}, args...)...)
		}
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+store)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	if out, errs, err := run(arm, "import", "../clientcmd/testdata/alice.uri", "--name", "gw1", "--host", "knock.example.org"); err != nil || !strings.Contains(out, "Imported profile gw1") {
		t.Fatalf("arm64 import: %v\n%s%s", err, out, errs)
	}
	// same runs args on both builds until both print in one step (a
	// step may turn between the two runs).
	same := func(t *testing.T, pick func(stdout, stderr string) string, args ...string) string {
		t.Helper()
		for try := 0; try < 3; try++ {
			aOut, aErr, err := run(arm, args...)
			if err != nil {
				t.Fatalf("arm64 %s: %v\n%s%s", strings.Join(args, " "), err, aOut, aErr)
			}
			hOut, hErr, err := run(bins.Client, args...)
			if err != nil {
				t.Fatalf("host %s: %v\n%s%s", strings.Join(args, " "), err, hOut, hErr)
			}
			a, h := pick(aOut, aErr), pick(hOut, hErr)
			if stepRE.FindString(aOut+aErr) != stepRE.FindString(hOut+hErr) {
				continue
			}
			if a != h || a == "" {
				t.Fatalf("arm64 %s printed %q, the host's build %q", strings.Join(args, " "), a, h)
			}
			return a
		}
		t.Fatalf("%s: the step turned between the runs three times", strings.Join(args, " "))
		return ""
	}
	t.Run("show", func(t *testing.T) {
		seq := same(t, func(out, errs string) string { return out + stepRE.FindString(errs) }, "show", "gw1")
		if !regexp.MustCompile(`^(?:(?:tcp|udp)/\d+ ){3}(?:tcp|udp)/\d+\nstep \d+$`).MatchString(seq) {
			t.Errorf("show printed %q, want 4 knocks and the step", seq)
		}
	})
	t.Run("send --dry-run", func(t *testing.T) {
		last := regexp.MustCompile(`(?m)^dry run: nothing sent .*$`)
		line := same(t, func(out, _ string) string { return last.FindString(out) }, "send", "gw1", "--dry-run")
		if !regexp.MustCompile(`^dry run: nothing sent \(step \d+: (?:(?:tcp|udp)/\d+ ){3}(?:tcp|udp)/\d+\)$`).MatchString(line) {
			t.Errorf("dry run printed %q", line)
		}
	})
	t.Run("tui", func(t *testing.T) {
		armTUI(t, qemu, arm, store)
	})
	t.Run("tui --help", func(t *testing.T) {
		out, errs, err := run(arm, "tui", "--help")
		if err != nil || !strings.Contains(out, "A terminal interface for knocking by hand") || !strings.Contains(out, "otpknock tui") {
			t.Errorf("arm64 tui --help: %v\n%s%s", err, out, errs)
		}
	})
}

// armTUI runs the arm64 tui in tmux under qemu: it draws the profile
// list with the store's profile selected and the current sequence, and
// q quits. Nothing is knocked.
func armTUI(t *testing.T, qemu, arm, store string) {
	requireTool(t, "tmux", "tmux")
	sock := fmt.Sprintf("otpknock-arm64-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	run := fmt.Sprintf("env OTPKNOCK_CLIENT_CONFIG=%s TERM=xterm-256color %s %s tui", store, qemu, arm)
	if out, err := tmux("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", run); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	defer tmux("kill-server")
	var last string
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(last, "Knock now") || !strings.Contains(last, "alice@gw1"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the arm64 tui never drew the profile and its knock:\n%s", last)
		}
		last, _ = tmux("capture-pane", "-p", "-t", "tui")
	}
	if !strings.Contains(last, "▸ gw1") || !regexp.MustCompile(`(?:tcp|udp)/\d+`).MatchString(last) {
		t.Errorf("the arm64 tui's screen lacks the selected profile or its sequence:\n%s", last)
	}
	tmux("send-keys", "-t", "tui", "q")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := tmux("has-session", "-t", "tui"); err != nil {
			return // q ended the program and the session
		}
	}
	t.Errorf("q did not quit the arm64 tui")
}
