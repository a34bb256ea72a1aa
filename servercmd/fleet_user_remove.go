package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

// fleetUserRemove removes name from every member of the fleet once
// confirmed (or yes), with a tombstone sealed for each member, and its
// enrollment secret.
func fleetUserRemove(cmd *cobra.Command, env *Env, f *fleetFlags, name string, yes bool) error {
	adm, cfg, closeStore, err := env.admin(f)
	if err != nil {
		return err
	}
	defer closeStore()
	held, err := adm.Holders(cmd.Context())
	if err != nil {
		return err
	}
	if _, ok := held[name]; !ok {
		return cli.UsageErrorf("NAME: fleet %s has no user %q", cfg.Fleet.ID, name)
	}
	if !yes {
		if err := confirm(env, name, fmt.Sprintf("Remove user %s from every member of fleet %s, and its enrollment secret?", name, cfg.Fleet.ID)); err != nil {
			return err
		}
	}
	if _, err := adm.RemoveUser(cmd.Context(), name); err != nil {
		return err
	}
	if err := fleet.RemoveEnrollment(f.enrollments, name); err != nil {
		return fmt.Errorf("--enrollments: %w", err)
	}
	fmt.Fprintf(env.Stdout, "Removed %s from fleet %s: every member drops it within seconds and refuses its older records.\n", name, cfg.Fleet.ID)
	return nil
}
