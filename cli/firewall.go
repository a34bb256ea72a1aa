package cli

import (
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/firewall"
	"github.com/spf13/cobra"
)

func newFirewallCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "firewall",
		Short: "Show or remove the server's firewall chain, sets and grants",
	}
	var path string
	c.PersistentFlags().StringVarP(&path, "config", "c", config.DefaultPath, "server config file")
	c.AddCommand(newFirewallStatusCmd(env, &path), newFirewallRemoveCmd(env, &path))
	return c
}

// kernelFirewall loads the config at path and opens the kernel firewall
// with the plan for it.
func kernelFirewall(path string) (*config.Config, *firewall.Kernel, firewall.Plan, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, firewall.Plan{}, err
	}
	fw, err := firewall.NewKernel()
	if err != nil {
		return nil, nil, firewall.Plan{}, err
	}
	return cfg, fw, firewall.PlanFor(cfg), nil
}
