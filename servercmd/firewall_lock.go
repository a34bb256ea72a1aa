package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/spf13/cobra"
)

func newFirewallLockCmd(env *Env, path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Close the protected ports to everyone without a grant, before the server starts",
		Long: `Install only the static part of the firewall: the drop of every
protected service of the config, with the accepts of established sessions
and of live grants, and no knock logging. It reads the config's services
only (no secret, no state file), so it works when the server cannot
start; the packaged otpknock-lock.service runs it at boot before the
network comes up. The server replaces it in place when it starts (new
rules in front, old ones deleted after: never open). When the server's
own firewall is already installed and intact, it changes nothing.

Exit status: 2 for a bad config or without root or CAP_NET_ADMIN, 1 when installing
fails.`,
		Args: cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fw, plan, err := openFirewall(env, *path)
			if err != nil {
				return err
			}
			locked, err := lock(fw, plan)
			if err != nil {
				return privileged(err)
			}
			if !locked {
				verb := "stay"
				if len(plan.Protected) == 1 {
					verb = "stays"
				}
				fmt.Fprintf(env.Stdout, "The server's firewall is installed and intact: %s %s closed without a grant.\n", services(plan.Protected), verb)
				return nil
			}
			if len(plan.Protected) == 0 {
				fmt.Fprintf(env.Stdout, "Locked: the config protects no service yet; the %s drops nothing.\n", installedIn(fw))
				return nil
			}
			fmt.Fprintf(env.Stdout, "Locked: %s closed to everyone without a grant (%s, no knock logging until the server starts).\n", services(plan.Protected), installedIn(fw))
			return nil
		},
	}
}

// installedIn names where fw keeps its rules, for a message.
func installedIn(fw firewall.Backend) string {
	return fw.Kind().Where()
}

// services lists services for a message.
func services(ks []derive.Knock) string { return derive.Knocks(ks).Join(", ") }

// lock installs plan.Lock() unless plan itself is installed and intact
// (a running server's firewall), and says whether it did.
func lock(fw firewall.Backend, plan firewall.Plan) (bool, error) {
	if missing, err := fw.Verify(plan); err == nil && len(missing) == 0 {
		return false, nil
	}
	if err := fw.Setup(plan.Lock()); err != nil {
		return false, fmt.Errorf("locking the protected ports: %w", err)
	}
	return true, nil
}
