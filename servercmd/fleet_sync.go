package servercmd

import (
	"fmt"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

func newFleetSyncCmd(env *Env, f *fleetFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "sync",
		Short: "Give members added later the users they lack, from the enrollment secrets",
		Args:  cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, _, closeStore, err := env.admin(f)
			if err != nil {
				return err
			}
			defer closeStore()
			es, err := fleet.LoadEnrollments(f.enrollments)
			if err != nil {
				return cli.Usage(fmt.Errorf("--enrollments: %w", err))
			}
			for _, e := range es { // members refuse what user add refuses: seal none of it
				if _, err := config.ParseGrantPrefix(e.GrantPrefix); e.GrantPrefix != "" && err != nil {
					return cli.Usage(fmt.Errorf("--enrollments: %s: grant_prefix: %w", fleet.EnrollmentPath(f.enrollments, e.User), err))
				}
			}
			for _, e := range es {
				got, err := adm.Sync(cmd.Context(), e.Secret, e.UserKey)
				if err != nil {
					return fmt.Errorf("user %s: %w", e.User, err)
				}
				if len(got) > 0 {
					fmt.Fprintf(env.Stdout, "%s: sealed for %s\n", e.User, strings.Join(got, ", "))
				}
			}
			fmt.Fprintf(env.Stdout, "%d enrolled users checked.\n", len(es))
			return nil
		},
	}
}
