package servercmd

import (
	"fmt"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/firewall"
	"github.com/spf13/cobra"
)

func newFirewallRemoveCmd(env *Env, path *string) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "remove [--force]",
		Short: "Remove the table or chain and the sets (stop the server first)",
		Long: `Remove everything otpknock installed, by name: the table inet otpknock
(nftables); the chains OTPKNOCK and OTPKNOCK-FWD with their jumps and
the otpknock* ipsets (iptables); with their grants. The protected ports
then follow the rest of your firewall: if it accepts them, they are open
to everyone. This is the way back from a lockout.

It works when the config is broken or missing: it warns in one line and
removes by name, from whichever backend holds objects of otpknock's.

While a server runs it refuses and names the pid: the server would
reinstall its firewall within seconds. Stop it first (systemctl stop
otpknock; the ports stay closed), then run remove; --force removes
anyway. A running server holds its pid file locked: otpknock.pid beside
the config's state_file, or in /var/lib/otpknock without a config.

Exit status: 2 without root or CAP_NET_ADMIN, 1 while a server runs
(without --force) or when removing fails.`,
		Args: cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needNetAdmin(env, "firewall remove"); err != nil {
				return err
			}
			cfg := loadLenient(env, *path, "removing otpknock's table, chains and sets by name")
			if pid, held := runningServer(env.pidFileOf(cfg)); held && !force {
				return fmt.Errorf("%s: it would reinstall its firewall within seconds; stop it first (systemctl stop otpknock, or kill the pid; the ports stay closed), then run otpknockd firewall remove again, or use --force", serverRuns(pid, env.pidFileOf(cfg)))
			}
			fws, err := env.firewalls(firewallMode(cfg))
			if err != nil {
				return privileged(err)
			}
			return removeAll(env, cfg, fws)
		},
	}
	c.Flags().BoolVar(&force, "force", false, "remove even while a server runs (it reinstalls its firewall at its next check)")
	return c
}

// removeAll removes otpknock's objects from each backend and says what
// it removed, or that nothing was installed.
func removeAll(env *Env, cfg *config.Config, fws []firewall.Backend) error {
	var absent []string
	for _, fw := range fws {
		plan := planOf(cfg, fw)
		st, err := fw.Status(plan)
		if err != nil {
			return privileged(fmt.Errorf("reading the firewall: %w", err))
		}
		if err := fw.Remove(plan); err != nil {
			return privileged(fmt.Errorf("removing the firewall: %w", err))
		}
		if st.Installed {
			fmt.Fprintln(env.Stdout, fw.Kind().Removed())
		} else {
			absent = append(absent, "no "+fw.Kind().Where())
		}
	}
	if len(absent) == len(fws) {
		fmt.Fprintf(env.Stdout, "Nothing to remove: %s is installed.\n", strings.Join(absent, ", "))
	}
	return nil
}
