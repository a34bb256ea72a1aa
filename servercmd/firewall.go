package servercmd

import (
	"errors"
	"os"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/firewall"
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

// privileged marks a permission error as a usage error: the command
// needs root or CAP_NET_ADMIN.
func privileged(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return cli.Usage(err)
	}
	return err
}
