package servercmd

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

// fleetUserList lists the fleet's users: how each knocks (knock and
// auth, from the records' labels), the members holding it and the
// members missing it, and, when a user has one, what its grants open
// (the grant_prefix label, in a GRANT column as the local list's). A
// removed user's tombstones are not listed.
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
	prefixes := false
	for _, u := range users {
		prefixes = prefixes || slices.ContainsFunc(u.grant, func(g string) bool { return g != "" })
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	head := "NAME\tKNOCK\tAUTH\tMEMBERS\tMISSING"
	if prefixes {
		head += "\tGRANT"
	}
	fmt.Fprintln(tw, head)
	for _, name := range slices.Sorted(maps.Keys(users)) {
		u := users[name]
		var missing []string
		for _, m := range members {
			if !slices.Contains(u.holders, m.Name) {
				missing = append(missing, m.Name)
			}
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", name, strings.Join(u.knock, ","), strings.Join(u.auth, ","),
			strings.Join(u.holders, ","), orDash(strings.Join(missing, ",")))
		if prefixes {
			var gs []string
			for _, g := range u.grant {
				gs = append(gs, fleetPrefixText(g))
			}
			row += "\t" + strings.Join(gs, " ")
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

// fleetPrefixText is what a grant of a record labelled with grant_prefix
// gp opens, as the local list shows it: "/24,/64", or "address".
func fleetPrefixText(gp string) string {
	if gp == "" {
		return grantPrefixText(config.GrantPrefix{})
	}
	g, err := config.ParseGrantPrefix(gp)
	if err != nil {
		return gp + " (refused by members)"
	}
	return grantPrefixText(g)
}

// fleetUser is one user of a fleet listing: the members holding a
// record of it and the knock, auth and grant_prefix those records are
// labelled with (one value each, unless records disagree).
type fleetUser struct {
	holders, knock, auth, grant []string
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
		u.grant = addSorted(u.grant, r.GrantPrefix)
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
