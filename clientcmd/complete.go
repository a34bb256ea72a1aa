package clientcmd

import (
	"github.com/otpknock/otpknock/cli"
	"github.com/spf13/cobra"
)

// profileNames lists the client's profile names, and with hosts the
// hosts they knock; nothing when the store does not load. Never a secret.
func profileNames(env *Env, hosts bool) func(*cobra.Command) []string {
	return func(*cobra.Command) []string {
		s, err := openStore(env)
		if err != nil {
			return nil
		}
		var out []string
		seen := map[string]bool{}
		for _, p := range s.Profiles {
			for _, n := range []string{p.Name, p.Host} {
				if !seen[n] && (n == p.Name || hosts) {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
		return out
	}
}

// addCompletions completes, beyond subcommands and flag names: profile
// names (and hosts, for a knock's TARGET) and the values of --format.
func addCompletions(root *cobra.Command, env *Env) {
	profiles, targets := cli.CompleteFirst(profileNames(env, false)), cli.CompleteFirst(profileNames(env, true))
	for path, f := range map[string]cli.CompleteFunc{
		"show": targets, "send": targets, "connect": targets, "keep": targets,
		"profiles remove": profiles, "profiles rename": profiles,
	} {
		if c := cli.Find(root, path); c != nil {
			c.ValidArgsFunction = f
		}
	}
	flags := []struct {
		path, flag string
		f          cli.CompleteFunc
	}{
		{"show", "format", cli.CompleteValues("plain", "knock")},
		{"send", "profile", cli.CompleteListed(profileNames(env, false))},
		{"connect", "profile", cli.CompleteListed(profileNames(env, false))},
		{"keep", "profile", cli.CompleteListed(profileNames(env, false))},
	}
	for _, fl := range flags {
		if c := cli.Find(root, fl.path); c != nil {
			c.RegisterFlagCompletionFunc(fl.flag, fl.f)
		}
	}
}
