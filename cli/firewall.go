package cli

import (
	"github.com/otpknock/otpknock/config"
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
