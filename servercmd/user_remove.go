package servercmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/spf13/cobra"
)

func newUserRemoveCmd(env *Env, path *string) *cobra.Command {
	var noReload bool
	c := &cobra.Command{
		Use:               "remove NAME [--no-reload]",
		ValidArgsFunction: cli.CompleteFirst(userNames),
		Aliases:           []string{"rm"},
		Short:             "Remove a user and delete their secret",
		Long: `Remove a user from the config, delete their secret and reload a
running server (systemctl reload otpknock when systemd runs it, else
SIGHUP to the pid in the pid file next to state_file), so the user's
knocks stop opening at once. --no-reload prints the command instead.`,
		Args: cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := config.RemoveUser(*path, a[0])
			if err != nil {
				return editError(err)
			}
			secret := cfg.SecretPath(a[0])
			if err := os.Remove(secret); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("user %s removed from %s, but deleting the secret failed: %w", a[0], cfg.Path, err)
			}
			fmt.Fprintf(env.Stdout, "Removed user %s from %s and deleted %s.\n", a[0], cfg.Path, secret)
			if noReload {
				notReloaded(env.Stdout, cfg)
			} else {
				reloadServer(env, env.Stdout, cfg)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noReload, "no-reload", false, "do not reload a running server; print the command instead")
	return c
}
