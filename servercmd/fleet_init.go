package servercmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/spf13/cobra"
)

// bucketMaker is a store with buckets to create: NATS JetStream.
type bucketMaker interface {
	Buckets(ctx context.Context) ([]string, error)
}

func newFleetInitCmd(env *Env, f *fleetFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the fleet's buckets in NATS, once, before the first member starts",
		Long: `Create the fleet's two JetStream key-value buckets, the users and the
used steps, with the config's fleet.replicas, or update them when they
exist. Members only bind them, so their NATS users need no permission to
create streams: run this once, with the administrator's NATS
credentials, before the first member starts (a member started before
waits, and says so in its log).`,
		Args: cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := fleetConfig(f.config)
			if err != nil {
				return cli.Usage(err)
			}
			store, closeStore, err := env.fleetStoreManaged(cfg, true)
			if err != nil {
				return err
			}
			defer closeStore()
			bm, ok := store.(bucketMaker)
			if !ok {
				fmt.Fprintf(env.Stdout, "Fleet %s: its store has no buckets to create.\n", cfg.Fleet.ID)
				return nil
			}
			names, err := bm.Buckets(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Fleet %s: buckets %s ready (replicas %d).\n", cfg.Fleet.ID, strings.Join(names, " and "), cfg.Fleet.Replicas)
			return nil
		},
	}
}
