package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// CompleteFunc completes a command's arguments or a flag's value.
type CompleteFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// CompleteFirst completes only a command's first argument, with names().
func CompleteFirst(names func(c *cobra.Command) []string) CompleteFunc {
	return func(c *cobra.Command, a []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(a) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(names(c), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteListed completes a flag's value with names().
func CompleteListed(names func(c *cobra.Command) []string) CompleteFunc {
	return func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return matching(names(c), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteValues completes a flag's value from a fixed list.
func CompleteValues(vs ...string) CompleteFunc {
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

// completions readies what only completing needs, when args ask for it:
// the completion command, built before Execute so that it refuses a
// shell it does not know (tcsh), and the completions of names and
// values (Program.Complete) for the shell's requests.
func completions(root *cobra.Command, env *Env, p Program, args []string) {
	switch {
	case len(args) == 0:
	case args[0] == "completion":
		root.SetOut(env.Stdout) // the scripts' writer is taken now
		root.InitDefaultCompletionCmd()
		if c := Find(root, "completion"); c != nil {
			parents(c)
		}
	case isCompletion(args[0]) && p.Complete != nil:
		p.Complete(root)
	}
}

// Find returns the command at path ("user show") under root, or nil when
// the tree does not hold it.
func Find(root *cobra.Command, path string) *cobra.Command {
	c, _, err := root.Find(strings.Fields(path))
	if err != nil || c.CommandPath() != root.Name()+" "+path {
		return nil
	}
	return c
}
