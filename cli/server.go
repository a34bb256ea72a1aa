package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/listener"
	"github.com/spf13/cobra"
)

func newServerCmd(env *Env) *cobra.Command {
	var path, logFormat, logLevel string
	var dryRun, checkOnly bool
	c := &cobra.Command{
		Use:   "server [--config FILE] [--dry-run]",
		Short: "Run the knock server: watch knocks, open services for their senders",
		Long: `Run the otpknock server. It installs its iptables chain and ipsets,
reads knock packets from NFLOG, and opens each user's services for the
address that knocked their current sequence, for open_timeout. SIGHUP
reloads users and secrets; SIGINT or SIGTERM stop it, leaving the
protected ports closed and live grants expiring on their own.

Needs root or CAP_NET_ADMIN. --dry-run prints the firewall it would
install and exits; --check validates the config, the secrets and the
kernel support without changing anything.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if dryRun {
				fmt.Fprint(env.Stdout, firewall.PlanFor(cfg).Render())
				return nil
			}
			if checkOnly {
				return check(env.Stdout, cfg)
			}
			log, err := newLogger(env, logFormat, logLevel)
			if err != nil {
				return err
			}
			return serve(cmd, env, cfg, log)
		},
	}
	c.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "server config file")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the firewall rules and sets it would install, then exit")
	c.Flags().BoolVar(&checkOnly, "check", false, "check config, secrets and kernel support, change nothing, then exit")
	c.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	c.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
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

func serve(cmd *cobra.Command, env *Env, cfg *config.Config, log *slog.Logger) error {
	if err := daemon.CheckPrivileges(); err != nil {
		return err
	}
	if ls := daemon.ListenersInRange(cfg.Params); len(ls) > 0 {
		log.Warn("local sockets listen inside the knock range; the firewall drops their traffic", "sockets", strings.Join(ls, ","))
	}
	fw, err := firewall.NewKernel()
	if err != nil {
		return err
	}
	src, err := listener.Open(listener.DefaultOptions(cfg.NFLOGGroup))
	if err != nil {
		return err
	}
	defer src.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for range hup {
			reload <- struct{}{}
		}
	}()
	d := &daemon.Daemon{Source: src, Firewall: fw, Clock: env.Clock, Log: log, Reload: reload, ConfigPath: cfg.Path}
	if err := d.Start(cfg); err != nil {
		return err
	}
	if cfg.MetricsListen != "" {
		d.Metrics = daemon.NewMetrics(d)
		go func() {
			if err := d.Metrics.Serve(cmd.Context(), cfg.MetricsListen); err != nil {
				log.Error("metrics", "err", err)
			}
		}()
	}
	return d.Run(cmd.Context())
}
