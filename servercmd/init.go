package servercmd

import (
	"fmt"
	"os"

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
			svc, err := env.service()
			if err != nil {
				return err
			}
			o.Service = svc
			c, err := config.WriteInit(path, o)
			if err != nil {
				return initError(err)
			}
			fmt.Fprintf(env.Stdout, "Wrote %s (server_id %s, %.0f bits per sequence).\n", c.Path, c.ServerID, c.Params.Bits())
			printOwnership(env, c, svc)
			fmt.Fprintf(env.Stdout, "Strength: %.1f effective bits against a blind sweep with 1 user (minimum %d); these parameters keep the minimum up to %s (add knocks for more).\n",
				c.Params.EffectiveBits(1, 2*c.Skew+1, matcher.DefaultStrayTolerance), derive.MinBits, count(daemon.MaxUsers(c), "user"))
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

// printOwnership says who may read the new config: the service account,
// or its creator alone and what to do for a service that runs as
// otpknock.
func printOwnership(env *Env, c *config.Config, svc *config.Account) {
	if svc == nil {
		why := "no group " + config.ServiceName + " here"
		if env.Service == nil && os.Geteuid() != 0 {
			why = "not run as root, so not shared with group " + config.ServiceName
		}
		fmt.Fprintf(env.Stdout, "Ownership: %s is readable by its owner only (mode 0600): %s. A server run as another user needs to read it (chgrp GROUP %s && chmod 640 %s).\n",
			c.Path, why, c.Path, c.Path)
		return
	}
	fmt.Fprintf(env.Stdout, "Ownership: %s group %s, mode %o: the service reads it, only root changes it.\n", c.Path, svc.Group, config.SharedConfigMode)
	if svc.UID < 0 {
		fmt.Fprintf(env.Stdout, "No user %s: create it (systemd-sysusers) and give it %s (mode 0700) before adding users.\n", svc.User, c.SecretsDir)
	}
}
