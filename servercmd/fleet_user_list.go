package servercmd

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

// fleetUserList lists the fleet's users: how each knocks (knock and
// auth, from the records' labels), the members holding it and the
// members missing it. A removed user's tombstones are not listed.
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
	users := fleetUsers(recs)
	if len(users) == 0 {
		fmt.Fprintf(env.Stdout, "No users in fleet %s. Enroll one with: otpknockd user add NAME --open tcp/22\n", cfg.Fleet.ID)
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKNOCK\tAUTH\tMEMBERS\tMISSING")
	for _, name := range slices.Sorted(maps.Keys(users)) {
		u := users[name]
		var missing []string
		for _, m := range members {
			if !slices.Contains(u.holders, m.Name) {
				missing = append(missing, m.Name)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, strings.Join(u.knock, ","), strings.Join(u.auth, ","),
			strings.Join(u.holders, ","), orDash(strings.Join(missing, ",")))
	}
	return tw.Flush()
}

// fleetUser is one user of a fleet listing: the members holding a
// record of it and the knock and auth those records are labelled with
// (one value each, unless records disagree).
type fleetUser struct {
	holders, knock, auth []string
}

// fleetUsers gathers the users of recs, skipping tombstones; every list
// is sorted and without repeats.
func fleetUsers(recs []fleet.Record) map[string]*fleetUser {
	out := map[string]*fleetUser{}
	for _, r := range recs {
		if r.Removed {
			continue
		}
		u := out[r.User]
		if u == nil {
			u = &fleetUser{}
			out[r.User] = u
		}
		knock, auth := cmp.Or(r.Knock, derive.ModeSequence.String()), cmp.Or(r.Auth, derive.AuthHMAC.String())
		u.holders, u.knock, u.auth = addSorted(u.holders, r.Member), addSorted(u.knock, knock), addSorted(u.auth, auth)
	}
	return out
}

// addSorted inserts s into the sorted list l unless it is there.
func addSorted(l []string, s string) []string {
	i, found := slices.BinarySearch(l, s)
	if found {
		return l
	}
	return slices.Insert(l, i, s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
