package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otpknock/otpknock/firewall"
	"github.com/spf13/cobra"
)

func newFirewallStatusCmd(env *Env, path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the chain's rules, the sets and each grant with its time left",
		Args:  args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, plan, err := openFirewall(env, *path)
			if err != nil {
				return err
			}
			st, err := fw.Status(plan)
			if err != nil {
				return privileged(err)
			}
			if !st.Installed {
				fmt.Fprintf(env.Stdout, "Not installed: no %s chain (otpknock server installs it).\n", firewall.Chain)
				return nil
			}
			nflog := "off: no server is reading knocks, protected ports stay closed"
			if strings.Contains(strings.Join(st.Rules4, "\n"), "NFLOG") {
				nflog = "on"
			}
			current := "current"
			switch all := strings.Join(st.Rules4, "\n"); {
			case strings.Contains(all, plan.Lock().Digest()):
				current = "locked (otpknock firewall lock: the protected ports closed, the server not started)"
			case !strings.Contains(all, plan.Digest()):
				current = "differs from the config (the server updates it at start or reload)"
			}
			fmt.Fprintf(env.Stdout, "Chain %s: %d IPv4 and %d IPv6 rules, %s; knock logging %s.\n", firewall.Chain, len(st.Rules4), len(st.Rules6), current, nflog)
			for _, r := range st.Rules4 {
				fmt.Fprintf(env.Stdout, "  %s\n", r)
			}
			fmt.Fprintf(env.Stdout, "Sets %s, %s: %d grants.\n", firewall.Set4, firewall.Set6, len(st.Grants))
			if len(st.Grants) == 0 {
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
