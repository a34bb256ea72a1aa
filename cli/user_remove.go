package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/otpknock/otpknock/config"
	"github.com/spf13/cobra"
)

func newUserRemoveCmd(env *Env, path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user and delete their secret",
		Args:  args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := config.RemoveUser(*path, a[0])
			if err != nil {
				return err
			}
			secret := cfg.SecretPath(a[0])
			if err := os.Remove(secret); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("user %s removed from %s, but deleting the secret failed: %w", a[0], cfg.Path, err)
			}
			fmt.Fprintf(env.Stdout, "Removed user %s from %s and deleted %s.\n", a[0], cfg.Path, secret)
			return nil
		},
	}
}
