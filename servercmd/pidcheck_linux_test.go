package servercmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
)

// TestReloadSignalsOnlyTheServer checks that user add and remove signal
// the pid of the pid file only when it is a server's that holds the
// file: whoever owns the state directory can write the file, and root
// must not send SIGHUP to a process of their choosing.
func TestReloadSignalsOnlyTheServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup holds the pid file at path and returns the pid to
		// write into it.
		setup    func(t *testing.T, path string) int
		wantKill bool
		wantLine string
	}{
		{"the holder, this program", func(t *testing.T, path string) int { hold(t, path); return os.Getpid() }, true, "Reloaded the running server (SIGHUP to pid"},
		{"another process than the holder", func(t *testing.T, path string) int { hold(t, path); return sleeper(t) }, false, "does not hold its lock"},
		{"a holder that is not otpknockd", flockHolder, false, ", not otpknockd"},
		{"a file of another user", func(t *testing.T, path string) int {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give the pid file to another user")
			}
			hold(t, path)
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return os.Getpid()
		}, false, "belongs to uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			cfgPath := h.path("config.yaml")
			h.mustRun("", "init", "-c", cfgPath, "--server-id", "gw1", "--host", "198.18.0.1", "--state-file", h.path("state/state.json"))
			cfg, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(h.path("state"), 0o700); err != nil {
				t.Fatal(err)
			}
			pid := tc.setup(t, pidPath(cfg))
			if err := os.WriteFile(pidPath(cfg), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			h.systemctl = func(...string) error { return errors.New("exit status 3") }
			var killed []int
			h.signal = func(pid int, _ os.Signal) error { killed = append(killed, pid); return nil }
			out := h.mustRun("", "user", "add", "bob", "-c", cfgPath, "--no-qr")
			if got := len(killed) > 0; got != tc.wantKill {
				t.Errorf("signalled %v, want a signal: %v", killed, tc.wantKill)
			}
			if tc.wantKill && killed[0] != pid {
				t.Errorf("signalled pid %d, want %d", killed[0], pid)
			}
			if !strings.Contains(out, tc.wantLine) {
				t.Errorf("output lacks %q:\n%s", tc.wantLine, out)
			}
			if !tc.wantKill && !strings.Contains(out, "Not signalling: ") {
				t.Errorf("output does not say it did not signal:\n%s", out)
			}
		})
	}
}

// hold holds the pid file at path as a server does, until the test ends.
func hold(t *testing.T, path string) {
	t.Helper()
	release, err := holdPidFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

// sleeper starts a process that has nothing to do with otpknock.
func sleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// flockHolder makes flock(1) hold the pid file, as anyone who owns the
// state directory could, and returns flock's pid.
func flockHolder(t *testing.T, path string) int {
	t.Helper()
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("needs flock(1) from util-linux (make deps installs it)")
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("flock", "-n", path, "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 200; i++ {
		if held, _ := pidFileHeld(path); held {
			return cmd.Process.Pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("flock did not take %s within 2 s", filepath.Base(path))
	return 0
}

// TestLockHolders checks the reading of the kernel's lock table.
func TestLockHolders(t *testing.T) {
	table := filepath.Join(t.TempDir(), "locks")
	lines := []string{
		"1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF",
		"1: -> FLOCK  ADVISORY  WRITE 999 fd:01:5678 0 EOF",
		"2: POSIX  ADVISORY  READ 42 00:1f:5678 0 EOF",
		"3: FLOCK  ADVISORY  WRITE 77 fd:01:9999 0 EOF",
		"garbage",
	}
	if err := os.WriteFile(table, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := lockHolders(table, 5678)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int]bool{1234: true, 42: true}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("holders of inode 5678 = %v, want %v", got, want)
	}
}
