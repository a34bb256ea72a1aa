package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestTUIInTmux drives the real otpknock tui in tmux (send-keys,
// capture-pane) in the client namespace against the real server: enter
// knocks with the first profile, the screen reports the door open, and
// the port is open for the client.
func TestTUIInTmux(t *testing.T) {
	netnstest.Require(t, "tmux", "iptables", "ip6tables")
	w := newWorld(t)
	w.startServer()
	sock := fmt.Sprintf("otpknock-test-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		cmd := exec.Command("tmux", append([]string{"-L", sock}, args...)...)
		cmd.Env = append(os.Environ(), "TERM=xterm-256color")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := fmt.Sprintf("ip netns exec %s env OTPKNOCK_CLIENT_CONFIG=%s TERM=xterm-256color %s tui", w.p.Client, w.store, bins.Client)
	if out, err := tmux("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", run); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	defer tmux("kill-server")
	screen := func(want string) string {
		t.Helper()
		var last string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			last, _ = tmux("capture-pane", "-p", "-t", "tui")
			if strings.Contains(last, want) {
				return last
			}
		}
		t.Fatalf("the screen never showed %q:\n%s", want, last)
		return ""
	}
	screen("Knock now")
	if !strings.Contains(screen("alice@gw1"), "▸ alice") {
		t.Fatalf("alice is not the selected profile")
	}
	tmux("send-keys", "-t", "tui", "Enter")
	got := screen("open in")
	if !strings.Contains(got, "198.18.0.1:2222") {
		t.Errorf("screen after enter:\n%s", got)
	}
	w.waitLog("msg=grant src=198.18.0.2 user=alice")
	if !w.open(netip.Addr{}, w.p.ServerV4, 2222) {
		t.Errorf("port 2222 closed after the TUI's knock")
	}
	tmux("send-keys", "-t", "tui", "q")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := tmux("has-session", "-t", "tui"); err != nil {
			return // q ended the program and the session
		}
	}
	t.Errorf("q did not quit the TUI")
}
