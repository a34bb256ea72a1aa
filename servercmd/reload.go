package servercmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/otpknock/otpknock/config"
)

// unit is the systemd service the packages install.
const unit = "otpknock.service"

// pidPath is where a running server writes its pid: next to its state
// file, so each config has its own.
func pidPath(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.StateFile), "otpknock.pid")
}

// systemctl runs systemctl: Env's, or the real one.
func (env *Env) systemctl(args ...string) error {
	if env.Systemctl != nil {
		return env.Systemctl(args...)
	}
	return exec.Command("systemctl", args...).Run()
}

// hangup sends SIGHUP to pid: Env's, or the kernel's.
func (env *Env) hangup(pid int) error {
	if env.Signal != nil {
		return env.Signal(pid, syscall.SIGHUP)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(syscall.SIGHUP)
}

// reloadServer makes a running server read cfg again: systemctl reload
// when systemd runs otpknock.service, else SIGHUP to the pid of a live
// pid file (one its server holds locked); otherwise it prints the
// command to run. It returns the line it printed.
func reloadServer(env *Env, w io.Writer, cfg *config.Config) string {
	manual := fmt.Sprintf("systemctl reload otpknock, or kill -HUP $(cat %s)", pidPath(cfg))
	var line string
	switch {
	case env.systemctl("is-active", "--quiet", unit) == nil:
		if err := env.systemctl("reload", unit); err != nil {
			line = fmt.Sprintf("Reloading %s failed (%v): run systemctl reload otpknock.", unit, err)
		} else {
			line = "Reloaded the running server (systemctl reload otpknock)."
		}
	default:
		pid, err := livePid(pidPath(cfg))
		switch {
		case err == nil:
			if err := env.hangup(pid); err != nil {
				line = fmt.Sprintf("Signalling the server (pid %d) failed (%v): run kill -HUP %d.", pid, err, pid)
			} else {
				line = fmt.Sprintf("Reloaded the running server (SIGHUP to pid %d, from %s).", pid, pidPath(cfg))
			}
		case errors.As(err, new(*untrustedPidError)):
			line = fmt.Sprintf("Not signalling: %v; if a server runs, reload it yourself (systemctl reload otpknock).", errors.Unwrap(err))
		case errors.Is(err, os.ErrNotExist):
			line = fmt.Sprintf("No running server found (%s inactive, no live %s); if one runs, reload it: %s.", unit, pidPath(cfg), manual)
		default:
			line = fmt.Sprintf("No running server found (%v); if one runs, reload it: %s.", err, manual)
		}
	}
	fmt.Fprintln(w, line)
	return line
}

// notReloaded is the notice of --no-reload.
func notReloaded(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "Not reloaded (--no-reload): a running server applies the change after systemctl reload otpknock, or kill -HUP $(cat %s).\n", pidPath(cfg))
}

// livePid returns the pid in the pid file at path when a server holds
// the file locked; os.ErrNotExist when there is no file or no server
// holds it (a stale file); an error when the pid is not a server's that
// holds it (checkServerPid).
func livePid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	held, err := pidFileHeld(path)
	if err != nil {
		return 0, err
	}
	if !held {
		return 0, fmt.Errorf("%s is stale: %w", path, os.ErrNotExist)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: %q is not a pid", path, strings.TrimSpace(string(data)))
	}
	if err := checkServerPid(path, pid); err != nil {
		return 0, &untrustedPidError{err}
	}
	return pid, nil
}

// untrustedPidError is a pid file whose pid is not a server's that
// holds it: a file anyone with the state directory could have written.
type untrustedPidError struct{ err error }

func (e *untrustedPidError) Error() string { return "untrusted pid file: " + e.err.Error() }
func (e *untrustedPidError) Unwrap() error { return e.err }

// runningServer reports whether a server holds the pid file at path
// locked, and its pid: 0 when the file's pid is not proven the
// server's (livePid).
func runningServer(path string) (pid int, held bool) {
	pid, err := livePid(path)
	switch {
	case err == nil:
		return pid, true
	case errors.As(err, new(*untrustedPidError)):
		return 0, true
	}
	held, _ = pidFileHeld(path)
	return 0, held
}

// serverRuns says that a server runs, with its pid when known and its
// pid file.
func serverRuns(pid int, path string) string {
	if pid == 0 {
		return fmt.Sprintf("a server already runs (it holds %s locked)", path)
	}
	return fmt.Sprintf("a server already runs (pid %d, %s)", pid, path)
}
