package servercmd

import (
	"github.com/otpknock/otpknock/config"
	"github.com/spf13/cobra"
)

func newUserCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: summary("user"),
	}
	var path string
	c.PersistentFlags().StringVarP(&path, "config", "c", config.DefaultPath, "server config file")
	c.AddCommand(newUserAddCmd(env, &path), newUserListCmd(env, &path), newUserShowCmd(env, &path), newUserQRCmd(env, &path), newUserRemoveCmd(env, &path))
	return c
}
