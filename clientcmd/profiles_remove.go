package clientcmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newProfilesRemoveCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove a profile and its secret from the client",
		Args:    args(1, 1, "the profile's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			s, err := openStore(env)
			if err != nil {
				return usage(err)
			}
			if err := s.Remove(a[0]); err != nil {
				return usage(err)
			}
			if err := s.Save(); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Removed profile %s from %s.\n", a[0], s.Path)
			return nil
		},
	}
}
