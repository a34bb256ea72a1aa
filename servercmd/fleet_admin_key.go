package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

func newFleetAdminKeyCmd(env *Env, f *fleetFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "admin-key",
		Short: "Create the administrator's key (once) and print its public half for fleet.admin_key",
		Args:  cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, created, err := fleet.LoadOrCreateKey(f.adminKey)
			if err != nil {
				return cli.Usage(fmt.Errorf("--admin-key: %w", err))
			}
			if created {
				fmt.Fprintf(env.Stderr, "Created %s (mode 0600): keep it on the admin host only.\n", f.adminKey)
			}
			fmt.Fprintf(env.Stdout, "admin_key: %s\n", fleet.PublicString(key.Public))
			return nil
		},
	}
}
