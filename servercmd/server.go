package servercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/privs"
	"github.com/spf13/cobra"
)

func newServerCmd(env *Env) *cobra.Command {
	var path, logFormat, logLevel string
	var dryRun, checkOnly bool
	var healEvery time.Duration
	c := &cobra.Command{
		Use:   "server [--config FILE] [--dry-run]",
		Short: summary("server"),
		Long: `Run the otpknock server. It installs its nftables table or its
iptables chain and ipsets (config key firewall: auto picks one and says why),
reads knock packets from NFLOG, and opens each user's services for the
address that knocked their current sequence, for open_timeout. SIGHUP
(systemctl reload otpknock) reloads the config, users and secrets;
nflog_group, metrics_listen, state_file and firewall need a restart: a
reload keeps their running values, applies the rest and names them in
one log line. SIGINT or SIGTERM stop it, leaving the protected ports
closed and live grants expiring on their own (otpknockd firewall remove
opens the ports to whatever the rest of the firewall accepts).

It holds a pid file locked next to its state_file: while one runs, a
second server of the same state directory refuses to start and names
the running one (pid and pid file), and --check says so first.

Every --firewall-check (2s) it checks its chain, the jump and the sets,
and reinstalls what a firewall reload or iptables -F removed, with a log
line and the metric otpknock_firewall_repairs_total.

Needs root or CAP_NET_ADMIN. --dry-run prints the firewall it would
install and exits; --check validates the config, the secrets and the
kernel support without changing anything (without root or
CAP_NET_ADMIN it says so once and stops before the firewall and NFLOG
checks).

Before it reads secrets or state, or opens NFLOG, it closes the
protected ports as otpknockd firewall lock does, so a start that fails
leaves them closed.

Exit status: 2 for bad flags, configuration, secrets or state file (and
a failed --check or missing privileges), 1 when a server already runs,
or the server fails to install the firewall, to open NFLOG, or while it
runs.`,
		Args: cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return cli.Usage(err)
			}
			if dryRun {
				dryRunFirewall(env.Stdout, cfg)
				return nil
			}
			if checkOnly {
				return cli.Usage(check(env.Stdout, env, cfg))
			}
			log, err := newLogger(env, logFormat, logLevel)
			if err != nil {
				return cli.Usage(err)
			}
			if healEvery < 100*time.Millisecond || healEvery > 5*time.Minute {
				return cli.UsageErrorf("--firewall-check: %v must be from 100ms to 5m", healEvery)
			}
			return serve(cmd.Context(), env, cfg, log, healEvery)
		},
	}
	c.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "server config file")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the firewall backend, the rules and sets it would install, then exit")
	c.Flags().BoolVar(&checkOnly, "check", false, "check config, secrets and kernel support, change nothing, then exit")
	c.Flags().DurationVar(&healEvery, "firewall-check", daemon.DefaultHealEvery, "how often the server checks its firewall and reinstalls what a reload or iptables -F removed")
	c.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	c.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	c.RegisterFlagCompletionFunc("log-format", cli.CompleteValues("text", "json"))
	c.RegisterFlagCompletionFunc("log-level", cli.CompleteValues("debug", "info", "warn", "error"))
	return c
}

func newLogger(env *Env, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q must be debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(env.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q must be text or json", format)
}

// serve opens the kernel boundaries, builds the daemon and runs it until
// ctx ends or it fails. Its goroutines (reloads, metrics) end before it
// returns.
func serve(ctx context.Context, env *Env, cfg *config.Config, log *slog.Logger, healEvery time.Duration) error {
	if env.kernel() {
		if err := daemon.CheckPrivileges(); err != nil {
			return cli.Usage(err)
		}
	}
	if pid, held := runningServer(pidPath(cfg)); held {
		return fmt.Errorf("%s: stop it first (systemctl stop otpknock), or give this one another config with another state_file and nflog_group", serverRuns(pid, pidPath(cfg)))
	}
	if release, err := holdPidFile(pidPath(cfg)); err != nil {
		log.Info("no pid file: user add|remove cannot reload this server by themselves", "err", err)
	} else {
		defer release()
	}
	if ls := daemon.ListenersInRange(cfg.Params); len(ls) > 0 {
		log.Warn("local sockets listen inside the knock range; the firewall drops their traffic", "sockets", strings.Join(ls, ","))
	}
	fw, why, err := env.firewall(cfg.Firewall)
	if err != nil {
		return err
	}
	log.Info("firewall", "backend", why)
	// Closed first: whatever fails later (a secret, the state file, the
	// NFLOG group) leaves the protected ports closed.
	if _, err := lock(fw, daemon.PlanFor(cfg, fw)); err != nil {
		return fmt.Errorf("%w: %w", daemon.ErrInstall, err)
	}
	src, err := env.packets(cfg.NFLOGGroup)
	if err != nil {
		return err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	d, err := daemon.New(cfg, daemon.Deps{Source: src, Firewall: fw, Clock: env.Clock, Log: log, HealEvery: healEvery})
	if err != nil {
		if !errors.Is(err, daemon.ErrInstall) {
			err = cli.Usage(err) // the state file or a secret
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	hup, stopHangups := env.hangups()
	defer stopHangups()
	var wg sync.WaitGroup
	wg.Go(func() { relayReloads(ctx, hup, d) })
	if cfg.MetricsListen != "" {
		wg.Go(func() {
			if err := d.Metrics().ListenAndServe(ctx, cfg.MetricsListen); err != nil {
				log.Error("metrics", "err", err)
			}
		})
	}
	err = d.Run(ctx)
	cancel()
	wg.Wait()
	log.Info("the protected ports stay closed until the server starts again; otpknockd firewall remove opens them to whatever the rest of the firewall accepts")
	return err
}

// relayReloads reloads the daemon on each hangup until ctx ends.
func relayReloads(ctx context.Context, hup <-chan os.Signal, d *daemon.Daemon) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = d.Reload() // the daemon logs the outcome
		}
	}
}

// dryRunFirewall prints the backend the config's firewall key picks
// here, and why, then what it would install.
func dryRunFirewall(w io.Writer, cfg *config.Config) {
	kind, why := firewall.Pick(cfg.Firewall, firewall.HostNow())
	plan := daemon.FirewallPlan(cfg)
	fmt.Fprintf(w, "# firewall backend: %s (%s)\n", kind.Name(), why)
	if cfg.Firewall == firewall.ModeAuto && !privs.NetAdmin() {
		fmt.Fprintln(w, "# without root or CAP_NET_ADMIN auto cannot look at this host's firewall: run --dry-run with sudo for the backend the server picks")
	}
	fmt.Fprint(w, kind.Render(plan))
}
