package clientcmd

import (
	"fmt"

	"github.com/otpknock/otpknock/profile"
	"github.com/spf13/cobra"
)

func newProfilesRenameCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "rename OLD NEW",
		Aliases: []string{"mv"},
		Short:   "Rename a profile",
		Long: `Rename a profile; the step it last knocked in moves with it, so
the new name does not knock in that step again.`,
		Args: args(2, 2, "the profile's OLD and NEW names"),
		RunE: func(cmd *cobra.Command, a []string) error {
			s, err := openStore(env)
			if err != nil {
				return usage(err)
			}
			state, err := profile.LoadState(profile.StatePath(s.Path))
			if err != nil {
				return usage(err)
			}
			if err := s.Rename(a[0], a[1]); err != nil {
				return usage(err)
			}
			if err := s.Save(); err != nil {
				return err
			}
			if err := state.Rename(a[0], a[1]); err != nil {
				return fmt.Errorf("profile %s renamed %s, but moving its last step failed: %w", a[0], a[1], err)
			}
			fmt.Fprintf(env.Stdout, "Renamed profile %s to %s in %s.\n", a[0], a[1], s.Path)
			return nil
		},
	}
}
