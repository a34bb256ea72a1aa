package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/spf13/cobra"
)

func newFirewallRemoveCmd(env *Env, path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remove",
		Short: "Remove the table or chain and the sets (stop the server first)",
		Long: `Remove everything otpknock installed: with nftables the table inet
otpknock; with iptables the INPUT jump, the chain and the sets; with
their grants. The protected ports then follow the rest of
your firewall: if it accepts them, they are open to everyone.`,
		Args: cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, plan, err := openFirewall(env, *path)
			if err != nil {
				return err
			}
			if err := fw.Remove(plan); err != nil {
				return privileged(fmt.Errorf("removing the firewall: %w", err))
			}
			fmt.Fprintln(env.Stdout, fw.Kind().Removed())
			return nil
		},
	}
}
