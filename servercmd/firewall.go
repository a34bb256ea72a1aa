package servercmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/privs"
	"github.com/spf13/cobra"
)

func newFirewallCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "firewall",
		Short: summary("firewall"),
	}
	var path string
	c.PersistentFlags().StringVarP(&path, "config", "c", config.DefaultPath, "server config file")
	c.AddCommand(newFirewallStatusCmd(env, &path), newFirewallLockCmd(env, &path), newFirewallRemoveCmd(env, &path))
	return c
}

// openFirewall loads the config at path and opens the firewall backend
// (Env's, or the kernel's) with the plan for it.
func openFirewall(env *Env, path string) (firewall.Backend, firewall.Plan, error) {
	if err := needNetAdmin(env, "firewall lock"); err != nil {
		return nil, firewall.Plan{}, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, firewall.Plan{}, cli.Usage(err)
	}
	fw, _, err := env.firewall(cfg.Firewall)
	if err != nil {
		return nil, firewall.Plan{}, err
	}
	return fw, daemon.PlanFor(cfg, fw), nil
}

// needNetAdmin refuses, in one line, a command that administers the
// kernel's firewall without root or CAP_NET_ADMIN, before it probes a
// backend that would fail with errors of its own. Env's fakes need
// no privilege.
func needNetAdmin(env *Env, what string) error {
	if !env.kernel() || privs.NetAdmin() {
		return nil
	}
	return cli.UsageErrorf("%s needs root or CAP_NET_ADMIN (run it with sudo)", what)
}

// loadLenient loads the config at path for the commands that must work
// without it (firewall status and remove): when it does not load, it
// warns in one line and returns nil.
func loadLenient(env *Env, path, without string) *config.Config {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(env.Stderr, "warning: %v: going on without the config, %s\n", err, without)
		return nil
	}
	return cfg
}

// firewallMode is cfg's firewall key; auto without a config.
func firewallMode(cfg *config.Config) string {
	if cfg == nil {
		return firewall.ModeAuto
	}
	return cfg.Firewall
}

// planOf is cfg's plan for fw; the zero Plan without a config (the
// backends remove and list by name).
func planOf(cfg *config.Config, fw firewall.Backend) firewall.Plan {
	if cfg == nil {
		return firewall.Plan{}
	}
	return daemon.PlanFor(cfg, fw)
}

// firewalls opens the backends firewall status and remove work on:
// Env's; else the one mode picks here, and the other one too when
// objects of otpknock's are installed in it (an earlier run's).
func (env *Env) firewalls(mode string) ([]firewall.Backend, error) {
	if env.Firewall != nil {
		fw, err := env.Firewall()
		if err != nil {
			return nil, err
		}
		return []firewall.Backend{fw}, nil
	}
	h := firewall.HostNow()
	picked, _ := firewall.Pick(mode, h)
	kinds := []firewall.Kind{picked}
	if h.OwnTable && picked.Name() != firewall.ModeNFTables {
		kinds = append(kinds, firewall.KindOf(firewall.ModeNFTables))
	}
	if h.OwnSets && picked.Name() != firewall.ModeIPTables {
		kinds = append(kinds, firewall.KindOf(firewall.ModeIPTables))
	}
	var out []firewall.Backend
	for _, k := range kinds {
		fw, err := k.Open()
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", k.Name(), err)
		}
		out = append(out, fw)
	}
	return out, nil
}

// pidFileOf is where the server of cfg writes its pid; without a
// config, where the default config's does (Env's StateDir, if set).
func (env *Env) pidFileOf(cfg *config.Config) string {
	switch {
	case cfg != nil:
		return pidPath(cfg)
	case env.StateDir != "":
		return filepath.Join(env.StateDir, "otpknock.pid")
	}
	return filepath.Join(filepath.Dir(config.DefaultStateFile), "otpknock.pid")
}

// privileged marks a permission error as a usage error: the command
// needs root or CAP_NET_ADMIN.
func privileged(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return cli.Usage(err)
	}
	return err
}
