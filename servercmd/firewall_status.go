package servercmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/firewall"
	"github.com/spf13/cobra"
)

func newFirewallStatusCmd(env *Env, path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the table's or chain's rules, the sets and each grant with its time left",
		Long: `List what otpknock installed in the firewall: the table inet otpknock
(nftables) or the OTPKNOCK chain and its sets (iptables), its rules,
whether they are the config's, a lock's or another's, whether the
server logs knocks, and each grant with its time left.

It works when the config is broken or missing: it warns in one line and
lists what is installed, by name, without comparing it with a config.

Exit status: 2 without root or CAP_NET_ADMIN, 1 when reading the
firewall fails.`,
		Args: cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needNetAdmin(env, "firewall status"); err != nil {
				return err
			}
			cfg := loadLenient(env, *path, "listing what is installed by name")
			fws, err := env.firewalls(firewallMode(cfg))
			if err != nil {
				return privileged(err)
			}
			for _, fw := range fws {
				if err := printStatus(env, fw, planOf(cfg, fw)); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// printStatus prints fw's status for plan, with a table of the grants.
func printStatus(env *Env, fw firewall.Backend, plan firewall.Plan) error {
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
		fmt.Fprintf(tw, "%v\t%v\t%v\n", g.Source(), g.Svc, g.Left.Round(time.Second))
	}
	return tw.Flush()
}
