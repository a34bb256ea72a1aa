package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/matcher"
	"github.com/spf13/cobra"
)

func newInitCmd(env *Env) *cobra.Command {
	var path string
	var o config.InitOptions
	c := &cobra.Command{
		Use:   "init --server-id ID [--host HOST]",
		Short: summary("init"),
		Long: `Write a server config with every setting, its default and a one-line
explanation. An existing file is never overwritten.`,
		Example: "  otpknockd init --server-id gw1 --host knock.example.org",
		Args:    cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Host != "" {
				h, err := knockHost(o.Host, "", path)
				if err != nil {
					return cli.Usage(err)
				}
				o.Host = h
			}
			c, err := config.WriteInit(path, o)
			if err != nil {
				return initError(err)
			}
			fmt.Fprintf(env.Stdout, "Wrote %s (server_id %s, %.0f bits per sequence).\n", c.Path, c.ServerID, c.Params.Bits())
			fmt.Fprintf(env.Stdout, "Strength: %.1f effective bits against a blind sweep with 1 user (minimum %d); these parameters keep the minimum up to %.0f users (add knocks for more).\n",
				c.Params.EffectiveBits(1, 2*c.Skew+1, matcher.DefaultStrayTolerance), derive.MinBits, daemon.MaxUsers(c))
			if c.Host == "" {
				fmt.Fprintf(env.Stdout, "Set host: in it (or pass --host to user add) before provisioning users.\n")
			}
			fmt.Fprintf(env.Stdout, "Next: otpknockd user add NAME --config %s --open tcp/22\n", c.Path)
			return nil
		},
	}
	c.Flags().StringVarP(&path, "config", "c", config.DefaultPath, "config file to create")
	c.Flags().StringVar(&o.ServerID, "server-id", "", "identity of this server, part of every derivation (required)")
	c.Flags().StringVar(&o.Host, "host", "", "address clients knock, written into provisioning URIs")
	c.Flags().StringVar(&o.SecretsDir, "secrets-dir", config.DefaultSecretsDir, "directory of user secrets, relative to the config")
	c.Flags().StringVar(&o.StateFile, "state-file", config.DefaultStateFile, "where used steps are remembered")
	c.MarkFlagRequired("server-id")
	return c
}
