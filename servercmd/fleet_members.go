package servercmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

func newFleetMembersCmd(env *Env, f *fleetFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "members",
		Short: "List the fleet's members: name, identity clients knock, box key",
		Args:  cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := fleetConfig(f.config)
			if err != nil {
				return cli.Usage(err)
			}
			store, closeStore, err := env.fleetStore(cfg)
			if err != nil {
				return err
			}
			defer closeStore()
			ms, err := store.Members(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MEMBER\tIDENTITY\tKEY")
			for _, m := range ms {
				key := "(damaged)"
				if len(m.Public) == 32 {
					key = fleet.PublicString([32]byte(m.Public))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, m.Identity, key)
			}
			return tw.Flush()
		},
	}
}
