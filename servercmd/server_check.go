package servercmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
)

// errCheck marks a failed server --check.
var errCheck = errors.New("server --check found problems")

// check validates the config, the secrets and the kernel support the
// server needs, changing nothing, and prints one line per check. The
// firewall and the NFLOG group are Env's when set (as for serve, Env's
// fakes need no privilege); else the kernel's.
func check(w io.Writer, env *Env, cfg *config.Config) error {
	failed := 0
	line := func(err error, ok string) {
		if err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %v\n", err)
			return
		}
		fmt.Fprintf(w, "ok   %s\n", ok)
	}
	running := ""
	if pid, held := runningServer(pidPath(cfg)); held {
		running = serverRuns(pid, pidPath(cfg))
		fmt.Fprintf(w, "warn %s: otpknockd server refuses to start a second one; systemctl reload otpknock applies a changed config\n", running)
	}
	line(nil, fmt.Sprintf("config %s: server_id %s, %s, %.0f bits per sequence", cfg.Path, cfg.ServerID, count(float64(len(cfg.Users)), "user"), cfg.Params.Bits()))
	line(daemon.CheckStrength(cfg), fmt.Sprintf("strength: %.1f effective bits against a blind sweep (minimum %d)", daemon.EffectiveBits(cfg), derive.MinBits))
	for _, u := range cfg.Users {
		s, err := cfg.ReadSecret(u.Name)
		line(err, fmt.Sprintf("secret of %s: %d bits, private", u.Name, 8*len(s)))
	}
	checkServiceAccess(line, cfg)
	_, _, err := daemon.LoadState(cfg.StateFile, cfg.Params.Period)
	line(err, "state_file "+cfg.StateFile)
	if env.kernel() {
		if err := daemon.CheckPrivileges(); err != nil {
			fmt.Fprintf(w, "FAIL %v: the checks stop here, before the firewall and NFLOG (run --check with sudo)\n", err)
			return fmt.Errorf("%w: %d failed", errCheck, failed+1)
		}
		line(nil, "privileges: root or CAP_NET_ADMIN")
	}
	env.checkFirewall(line, cfg.Firewall)
	src, err := env.packets(cfg.NFLOGGroup)
	switch {
	case err == nil:
		if c, ok := src.(io.Closer); ok {
			c.Close()
		}
		line(nil, fmt.Sprintf("NFLOG group %d free", cfg.NFLOGGroup))
	case errors.Is(err, listener.ErrGroupTaken) && running != "":
		line(nil, fmt.Sprintf("NFLOG group %d works and is held by the running server", cfg.NFLOGGroup))
	case errors.Is(err, listener.ErrGroupTaken):
		line(fmt.Errorf("NFLOG group %d is held by another program (not an otpknockd of this config): set another nflog_group: %w", cfg.NFLOGGroup, err), "")
	default:
		line(err, "")
	}
	if ls := daemon.ListenersInRange(cfg.Params); len(ls) > 0 {
		fmt.Fprintf(w, "warn local sockets inside knock_range %s will not be reachable: %s\n", cfg.Params.RangeString(), strings.Join(ls, ","))
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d failed", errCheck, failed)
	}
	return nil
}

// checkFirewall reports the backend the config's firewall key picks
// here, why, and whether its kernel interface answers; with Env's
// firewall, whether it opens.
func (env *Env) checkFirewall(line func(error, string), mode string) {
	if env.Firewall != nil {
		_, why, err := env.firewall(mode)
		line(err, "firewall "+why)
		return
	}
	kind, why := firewall.Pick(mode, firewall.HostNow())
	found, err := kind.Probe()
	for i, f := range found {
		if i == 0 {
			f = fmt.Sprintf("firewall %s (%s): %s", kind.Name(), why, f)
		}
		line(nil, f)
	}
	if err != nil {
		line(err, "")
	}
}
