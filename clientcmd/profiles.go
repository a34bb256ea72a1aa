package clientcmd

import (
	"encoding/json"
	"fmt"
	"github.com/otpknock/otpknock/cli"
	"text/tabwriter"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/spf13/cobra"
)

// openStore loads the client's profile store from the path the
// environment names.
func openStore(env *Env) (*profile.Store, error) {
	path, err := profile.DefaultPath(env.Getenv)
	if err != nil {
		return nil, err
	}
	return profile.Load(path)
}

// profileJSON is a profile without its secret.
type profileJSON struct {
	Name       string   `json:"name"`
	Host       string   `json:"host"`
	User       string   `json:"user"`
	ServerID   string   `json:"server_id"`
	Opens      []string `json:"opens"`
	Knocks     int      `json:"knocks"`
	Protocols  string   `json:"protocols"`
	KnockRange string   `json:"knock_range"`
	Step       int      `json:"step_seconds"`
	Bound      bool     `json:"bind_source"`
	Knock      string   `json:"knock"` // sequence or packet
}

func newProfilesCmd(env *Env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "profiles",
		Short: "List the client's profiles (never their secrets); remove or rename one",
		Args:  cli.NoArgsButSubcommands,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openStore(env)
			if err != nil {
				return usage(err)
			}
			if asJSON {
				out := []profileJSON{}
				for _, p := range s.Profiles {
					out = append(out, toJSON(p))
				}
				return writeJSON(env, out)
			}
			if len(s.Profiles) == 0 {
				fmt.Fprintf(env.Stdout, "No profiles in %s. Import one with: otpknock import -   (then paste the URI)\n", s.Path)
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tHOST\tUSER\tOPENS\tKNOCKS\tBOUND")
			for _, p := range s.Profiles {
				j := toJSON(p)
				knocks := fmt.Sprintf("%d x %s", j.Knocks, j.Protocols)
				if p.Knock == derive.ModePacket {
					// One packet, over the protocols that carry a payload.
					knocks = "1 packet " + p.Params.Protocols.Payload().String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s@%s\t%s\t%s %s\t%s\n", p.Name, p.Host, p.User, p.ServerID,
					cli.KnockList(p.Open), knocks, j.KnockRange, cli.YesNo(p.BindSource))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(newProfilesRemoveCmd(env), newProfilesRenameCmd(env))
	return c
}

func toJSON(p profile.Profile) profileJSON {
	opens := []string{}
	for _, k := range p.Open {
		opens = append(opens, k.String())
	}
	return profileJSON{Name: p.Name, Host: p.Host, User: p.User, ServerID: p.ServerID, Opens: opens,
		Knocks: p.Params.Knocks, Protocols: p.Params.Protocols.String(), KnockRange: p.Params.RangeString(),
		Step: int(p.Params.Period.Seconds()), Bound: p.BindSource, Knock: p.Knock.String()}
}

func writeJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
