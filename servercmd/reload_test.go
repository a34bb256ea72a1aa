package servercmd

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/config"
)

// TestUserChangeReloadsServer checks that user remove and user add make
// a running server apply the change: systemctl reload when systemd runs
// otpknock.service, else SIGHUP to the pid of a live pid file, else the
// command to run; --no-reload only prints it.
func TestUserChangeReloadsServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		active    bool   // systemctl is-active succeeds
		pidFile   string // "held", "stale" or ""
		flags     []string
		wantCalls []string
		wantLine  string
	}{
		{"systemd", true, "held", nil, []string{"systemctl is-active --quiet otpknock.service", "systemctl reload otpknock.service"}, "Reloaded the running server (systemctl reload otpknock)."},
		{"pid file", false, "held", nil, []string{"systemctl is-active --quiet otpknock.service", fmt.Sprintf("kill -HUP %d", os.Getpid())}, fmt.Sprintf("Reloaded the running server (SIGHUP to pid %d, from ", os.Getpid())},
		{"stale pid file", false, "stale", nil, []string{"systemctl is-active --quiet otpknock.service"}, "No running server found (otpknock.service inactive, no live "},
		{"nothing runs", false, "", nil, []string{"systemctl is-active --quiet otpknock.service"}, "No running server found (otpknock.service inactive, no live "},
		{"--no-reload", true, "held", []string{"--no-reload"}, nil, "Not reloaded (--no-reload): a running server applies the change after systemctl reload otpknock, or kill -HUP $(cat "},
	} {
		for _, cmd := range []string{"remove", "add"} {
			t.Run(tc.name+", user "+cmd, func(t *testing.T) {
				h := newHarness(t)
				cfgPath := h.path("config.yaml")
				h.mustRun("", "init", "-c", cfgPath, "--server-id", "gw1", "--host", "198.18.0.1", "--state-file", h.path("state/state.json"))
				h.mustRun("", "user", "add", "alice", "-c", cfgPath, "--no-qr")
				cfg, err := config.Load(cfgPath)
				if err != nil {
					t.Fatal(err)
				}
				os.MkdirAll(h.path("state"), 0o700)
				switch tc.pidFile {
				case "held":
					release, err := holdPidFile(pidPath(cfg))
					if err != nil {
						t.Fatal(err)
					}
					defer release()
				case "stale":
					os.WriteFile(pidPath(cfg), []byte("1\n"), 0o644)
				}
				var calls []string
				h.systemctl = func(args ...string) error {
					calls = append(calls, "systemctl "+strings.Join(args, " "))
					if args[0] == "is-active" && !tc.active {
						return errors.New("exit status 3")
					}
					return nil
				}
				h.signal = func(pid int, sig os.Signal) error {
					if sig != syscall.SIGHUP {
						t.Errorf("signal %v, want SIGHUP", sig)
					}
					calls = append(calls, fmt.Sprintf("kill -HUP %d", pid))
					return nil
				}
				args := []string{"user", cmd, "alice", "-c", cfgPath, "--yes"}
				if cmd == "add" {
					args = []string{"user", cmd, "bob", "-c", cfgPath, "--no-qr"}
				}
				out := h.mustRun("", append(args, tc.flags...)...)
				if diff := cmp.Diff(tc.wantCalls, calls); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
				if !strings.Contains(out, "\n"+tc.wantLine) {
					t.Errorf("output lacks %q:\n%s", tc.wantLine, out)
				}
			})
		}
	}
}

// TestInitShowsStrength checks that init and user add show the
// effective strength against a blind sweep.
func TestInitShowsStrength(t *testing.T) {
	h := newHarness(t)
	out := h.mustRun("", "init", "-c", h.path("config.yaml"), "--server-id", "gw1", "--host", "198.18.0.1")
	if want := "Strength: 54.1 effective bits against a blind sweep with 1 user (minimum 48); these parameters keep the minimum up to 66 users (add knocks for more).\n"; !strings.Contains(out, want) {
		t.Errorf("init output lacks %q:\n%s", want, out)
	}
	out = h.mustRun("", "user", "add", "alice", "-c", h.path("config.yaml"), "--no-qr", "--no-reload")
	if want := "Strength: 54.1 effective bits against a blind sweep with 1 sequence user (minimum 48; these parameters keep it up to 66 sequence users).\n"; !strings.Contains(out, want) {
		t.Errorf("user add output lacks %q:\n%s", want, out)
	}
}
