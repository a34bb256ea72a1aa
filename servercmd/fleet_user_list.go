package servercmd

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/otpknock/otpknock/cli"
	"github.com/spf13/cobra"
)

// fleetUserList lists the fleet's users, the members holding each and
// the members missing it.
func fleetUserList(cmd *cobra.Command, env *Env, f *fleetFlags) error {
	cfg, err := fleetConfig(f.config)
	if err != nil {
		return cli.Usage(err)
	}
	store, closeStore, err := env.fleetStore(cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	recs, err := store.Records(cmd.Context())
	if err != nil {
		return err
	}
	members, err := store.Members(cmd.Context())
	if err != nil {
		return err
	}
	holders := map[string][]string{}
	for _, r := range recs {
		holders[r.User] = append(holders[r.User], r.Member)
	}
	if len(holders) == 0 {
		fmt.Fprintf(env.Stdout, "No users in fleet %s. Enroll one with: otpknockd user add NAME --open tcp/22\n", cfg.Fleet.ID)
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMEMBERS\tMISSING")
	for _, u := range slices.Sorted(mapKeys(holders)) {
		hs := holders[u]
		slices.Sort(hs)
		var missing []string
		for _, m := range members {
			if !slices.Contains(hs, m.Name) {
				missing = append(missing, m.Name)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u, strings.Join(hs, ","), orDash(strings.Join(missing, ",")))
	}
	return tw.Flush()
}

func mapKeys(m map[string][]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
