package servercmd

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/spf13/cobra"
)

func newUserListCmd(env *Env, s *userScope) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users, what they open and the state of their secrets; in a fleet, their knock, auth and grant prefix and the members holding each",
		Args:    cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl, err := s.onFleet()
			if err != nil {
				return cli.Usage(err)
			}
			if fl {
				return fleetUserList(cmd, env, &s.fleet)
			}
			cfg, err := config.Load(s.fleet.config)
			if err != nil {
				return cli.Usage(err)
			}
			if len(cfg.Users) == 0 {
				fmt.Fprintf(env.Stdout, "No users in %s. Add one with: otpknockd user add NAME --open tcp/22\n", cfg.Path)
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			// The GRANT column (grant_prefix) shows only when a user has one.
			prefixes := slices.ContainsFunc(cfg.Users, func(u config.User) bool { return !u.GrantPrefix.IsZero() })
			head := "NAME\tOPENS\tFROM\tBOUND\tKNOCK\tSECRET"
			if prefixes {
				head += "\tGRANT"
			}
			fmt.Fprintln(tw, head)
			var bad []string
			for _, u := range cfg.Users {
				state, ok := secretState(cfg, u.Name)
				if !ok {
					bad = append(bad, u.Name)
				}
				row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", u.Name, cli.KnockList(u.Open), fromList(u), cli.YesNo(u.BindSource), u.Knock, state)
				if prefixes {
					row += "\t" + grantPrefixText(u.GrantPrefix)
				}
				fmt.Fprintln(tw, row)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(bad) > 0 {
				// The server refuses to start or reload with these.
				have := "have"
				if len(bad) == 1 {
					have = "has"
				}
				return cli.UsageErrorf("%d of %s %s no usable secret (%s): the server refuses this config until they are fixed or removed",
					len(bad), count(float64(len(cfg.Users)), "user"), have, strings.Join(bad, ", "))
			}
			return nil
		},
	}
}

// secretState says whether the user's secret file is usable, and
// describes it.
func secretState(cfg *config.Config, name string) (string, bool) {
	s, err := cfg.ReadSecret(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "MISSING", false
	case err != nil:
		return "BAD: " + err.Error(), false
	}
	return fmt.Sprintf("ok (%d bits)", 8*len(s)), true
}

// grantPrefixText is what a grant opens: "/24,/64", or "address".
func grantPrefixText(g config.GrantPrefix) string {
	if g.IsZero() {
		return "address"
	}
	v4, v6, _ := strings.Cut(g.String(), ",")
	return "/" + v4 + ",/" + v6
}
