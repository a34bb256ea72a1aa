package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// completeFunc completes a command's arguments or a flag's value.
type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// firstArg completes only the first argument, with names().
func firstArg(names func(c *cobra.Command) []string) completeFunc {
	return func(c *cobra.Command, a []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(a) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(names(c), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// listed completes a flag with names().
func listed(names func(c *cobra.Command) []string) completeFunc {
	return func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return matching(names(c), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// values completes a flag from a fixed list.
func values(vs ...string) completeFunc {
	return func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return matching(vs, prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// matching keeps the names that start with prefix.
func matching(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

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

// completions readies what only completing needs, when args ask for it:
// the completion command, built before Execute so that it refuses a
// shell it does not know (tcsh), and the completions of names and
// values (addCompletions) for the shell's requests.
func completions(root *cobra.Command, env *Env, args []string) {
	switch {
	case len(args) == 0:
	case args[0] == "completion":
		root.SetOut(env.Stdout) // the scripts' writer is taken now
		root.InitDefaultCompletionCmd()
		if c := find(root, "completion"); c != nil {
			parents(c)
		}
	case args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd:
		addCompletions(root, env)
	}
}

// addCompletions completes, beyond subcommands and flag names: profile
// names (and hosts, for a knock's TARGET) and the values of --format.
// otpknockd's commands complete their own (CompleteFirst,
// CompleteValues).
func addCompletions(root *cobra.Command, env *Env) {
	profiles, targets := firstArg(profileNames(env, false)), firstArg(profileNames(env, true))
	for path, f := range map[string]completeFunc{
		"show": targets, "send": targets, "connect": targets,
		"profiles remove": profiles, "profiles rename": profiles,
	} {
		if c := find(root, path); c != nil {
			c.ValidArgsFunction = f
		}
	}
	flags := []struct {
		path, flag string
		f          completeFunc
	}{
		{"show", "format", values("plain", "knock")},
		{"send", "profile", listed(profileNames(env, false))},
		{"connect", "profile", listed(profileNames(env, false))},
	}
	for _, fl := range flags {
		if c := find(root, fl.path); c != nil {
			c.RegisterFlagCompletionFunc(fl.flag, fl.f)
		}
	}
}

// find returns the command at path ("user show") under root, or nil when
// the tree does not hold it.
func find(root *cobra.Command, path string) *cobra.Command {
	c, _, err := root.Find(strings.Fields(path))
	if err != nil || c.CommandPath() != root.Name()+" "+path {
		return nil
	}
	return c
}
