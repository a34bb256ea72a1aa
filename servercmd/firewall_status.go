package servercmd

import (
	"fmt"
	"io"
	"strings"
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
			if _, nft := fw.(*firewall.NFT); nft {
				printNFTStatus(env.Stdout, st, plan)
			} else {
				printChainStatus(env.Stdout, st, plan)
			}
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

// locked is the status of a firewall that otpknock firewall lock installed.
const locked = "locked (otpknock firewall lock: the protected ports closed, the server not started)"

// state says of installed rules whether they are the config's, its
// lock's or another's (by the digests in their comments), and whether
// they log knocks (a rule holds logMark).
func state(rules []string, logMark, lockDigest, digest string) (current, nflog string) {
	all := strings.Join(rules, "\n")
	nflog = "off: no server is reading knocks, protected ports stay closed"
	if strings.Contains(all, logMark) {
		nflog = "on"
	}
	switch {
	case strings.Contains(all, lockDigest):
		return locked, nflog
	case !strings.Contains(all, digest):
		return "differs from the config (the server updates it at start or reload)", nflog
	}
	return "current", nflog
}

// printChainStatus prints the iptables chain's state, its rules and the
// sets' line.
func printChainStatus(w io.Writer, st firewall.Status, plan firewall.Plan) {
	if !st.Installed {
		fmt.Fprintf(w, "Not installed: no %s chain (otpknock server installs it).\n", firewall.Chain)
		return
	}
	current, nflog := state(st.Rules4, "NFLOG", plan.Lock().Digest(), plan.Digest())
	fmt.Fprintf(w, "Chain %s: %d IPv4 and %d IPv6 rules, %s; knock logging %s.\n", firewall.Chain, len(st.Rules4), len(st.Rules6), current, nflog)
	for _, r := range st.Rules4 {
		fmt.Fprintf(w, "  %s\n", r)
	}
	if len(st.Forward4)+len(st.Forward6) > 0 {
		fmt.Fprintf(w, "Chain %s (services forwarded to containers): %d IPv4 and %d IPv6 rules.\n", firewall.ForwardChain, len(st.Forward4), len(st.Forward6))
		for _, r := range st.Forward4 {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	fmt.Fprintf(w, "Sets %s, %s: %d grants.\n", firewall.Set4, firewall.Set6, len(st.Grants))
}

// printNFTStatus prints the nftables table's state, rules and the sets'
// line.
func printNFTStatus(w io.Writer, st firewall.Status, plan firewall.Plan) {
	if !st.Installed {
		fmt.Fprintf(w, "Not installed: no table inet %s (otpknock server installs it).\n", firewall.NFTTable)
		return
	}
	current, nflog := state(st.Rules4, " log group ", plan.Lock().NFTDigest(), plan.NFTDigest())
	fmt.Fprintf(w, "Table inet %s: %d rules for IPv4 and IPv6, %s; knock logging %s.\n", firewall.NFTTable, len(st.Rules4), current, nflog)
	for _, r := range st.Rules4 {
		fmt.Fprintf(w, "  %s\n", r)
	}
	fmt.Fprintf(w, "Sets %s, %s: %d grants.\n", firewall.NFTSet4, firewall.NFTSet6, len(st.Grants))
}
