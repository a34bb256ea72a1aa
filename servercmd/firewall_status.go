package servercmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/spf13/cobra"
)

func newFirewallStatusCmd(env *Env, path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the table's or chain's rules, the sets and each grant with its time left",
		Args:  cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, plan, err := openFirewall(env, *path)
			if err != nil {
				return err
			}
			st, err := fw.Status(plan)
			if err != nil {
				return privileged(err)
			}
			fmt.Fprint(env.Stdout, fw.Kind().StatusText(st, plan))
			if !st.Installed || len(st.Grants) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tSERVICE\tLEFT")
			for _, g := range st.Grants {
				fmt.Fprintf(tw, "%v\t%v\t%v\n", g.Src, g.Svc, g.Left.Round(time.Second))
			}
			return tw.Flush()
		},
	}
}
