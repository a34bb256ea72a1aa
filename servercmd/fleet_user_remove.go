package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

func newFleetUserRemoveCmd(env *Env, f *fleetFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a user from every member of the fleet, and its enrollment secret",
		Args:    cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			adm, cfg, closeStore, err := env.admin(f)
			if err != nil {
				return err
			}
			defer closeStore()
			held, err := adm.Holders(cmd.Context())
			if err != nil {
				return err
			}
			if _, ok := held[args[0]]; !ok {
				return cli.UsageErrorf("NAME: fleet %s has no user %q", cfg.Fleet.ID, args[0])
			}
			if err := adm.RemoveUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			if err := fleet.RemoveEnrollment(f.enrollments, args[0]); err != nil {
				return fmt.Errorf("--enrollments: %w", err)
			}
			fmt.Fprintf(env.Stdout, "Removed %s from fleet %s: every member drops it within seconds.\n", args[0], cfg.Fleet.ID)
			return nil
		},
	}
}
