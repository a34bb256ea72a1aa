package clientcmd

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
)

func newSendCmd(env *Env) *cobra.Command {
	var f knockFlags
	var wait string
	var dryRun bool
	c := &cobra.Command{
		Use:   "send TARGET [--wait [tcp/PORT[,TIMEOUT]]]",
		Short: "Knock: send the current sequence to a server",
		Long: `Send the current knock: the sequence, or for a packet profile the one
packet carrying the knock's MAC and the addresses to open. TARGET is a
profile name or a host (with --profile when several profiles knock that
host). A host with IPv4 and IPv6 addresses is knocked over the family
the service connection will use (the resolver's first address); -4 and
-6 choose. A packet knock claims the route source of each family, so
one knock opens both.

--dry-run prints at once what would be sent (the step, each packet and
the socket it would leave by, a packet's claim and payload size, the
service waited for) and sends nothing.

With --wait, check that the service opened: connect to it until it answers
or the timeout passes (default: the profile's first TCP service, 5s), and
knock again in a later step while it stays closed. A step is used once:
when this profile already knocked in the current step, send waits for
the next one and says so; with --wait it first tries the service for up
to 1.5s (the grant of that knock may still hold) and knocks only when it
is closed.

Behind NAT a packet knock claims your public address, which it learns
from STUN servers (--stun; none turns it off) and caches for 5 minutes;
without one it asks the server to open the address the knock comes from
and says so (--no-source refuses that). --nat says your address is
translated when the client cannot tell (a VPN, a server on a private
address). A packet knock whose claim the server may have refused knocks
again once, not --retries times, and names these switches.

Exit codes, for scripts and ssh_config's Match exec:
  0  opened (with --wait), sent (without), or a dry run printed
  1  not opened: the service stayed closed, or the knock could not be sent
  2  usage, configuration or input error: bad flags, a bad store or state
  3  no profile knocks TARGET (or none is called --profile NAME)`,
		Example: "  otpknock send work --wait\n  otpknock send knock.example.org --profile work --wait tcp/22,10s -v\n" +
			"  # ~/.ssh/config: knock before ssh connects to a knocked host\n" +
			"  Match host knock.example.org exec \"otpknock send %h --wait\"",
		Args: args(1, 2, "one TARGET (profile or host)"),
		RunE: func(cmd *cobra.Command, a []string) error {
			// "--wait tcp/22" parses as a bare --wait and an argument,
			// before or after TARGET; only a service has a slash.
			if len(a) == 2 {
				i := slices.IndexFunc(a, func(s string) bool { return strings.Contains(s, "/") })
				if !cmd.Flags().Changed("wait") || wait != "default" || i < 0 {
					return usage(fmt.Errorf("%s: want one TARGET (profile or host), got %q and %q", cmd.CommandPath(), a[0], a[1]))
				}
				wait = a[i]
				a = []string{a[1-i]}
			}
			waitFor := func(p profile.Profile) (uint16, time.Duration, error) {
				if !cmd.Flags().Changed("wait") {
					return 0, 0, nil
				}
				return parseWait(wait, p)
			}
			j, err := prepare(cmd.Context(), env, a[0], &f, dryRun, waitFor)
			if err != nil {
				return err
			}
			if dryRun || f.verbose {
				j.plan.Describe(j.client.Verbose)
			}
			// A knock in a used step would wait for the next one, while
			// the grant of the knock that used it may still hold.
			if w := j.plan.Wait; w != nil && !dryRun && stepUsed(j) {
				if conn := stillOpen(cmd.Context(), env, j, f.verbose); conn != nil {
					conn.Close()
					fmt.Fprintf(env.Stdout, "%s: %v still open from step %d's knock (no knock sent)\n", j.prof.Name, w.Addr, j.plan.Request.LastStep)
					return nil
				}
			}
			got, err := j.client.Knock(cmd.Context(), j.plan, f.retries)
			if err != nil {
				return knockError(err)
			}
			if got.Conn != nil {
				got.Conn.Close()
			}
			report(env, j, got, dryRun)
			return nil
		},
	}
	f.register(c)
	c.Flags().Var(waitValue{&wait}, "wait", "after knocking, wait for the service to open; `[tcp/PORT[,TIMEOUT]]` names it (bare: the profile's first TCP service, 5s)")
	c.Flags().Lookup("wait").NoOptDefVal = "true"
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the packets, send nothing")
	return c
}

// stepUsed reports whether the profile knocked in the current step.
func stepUsed(j *knockJob) bool {
	r := j.plan.Request
	return r.HaveLast && r.LastStep >= derive.Step(j.client.Clock.Now(), r.Params.Period)
}

// waitValue is --wait's value: "" (not given), "default" (bare: the
// profile's first TCP service) or PROTO/PORT[,TIMEOUT]. Its type reads
// as a switch's, so help shows "--wait [tcp/PORT[,TIMEOUT]]" rather
// than an optional string's `--wait tcp/PORT[,TIMEOUT][="default"]`.
type waitValue struct{ s *string }

func (w waitValue) String() string {
	if w.s == nil {
		return ""
	}
	return *w.s
}

// Set takes a service; the bare flag's "true" is the default service.
func (w waitValue) Set(v string) error {
	if v == "true" {
		v = "default"
	}
	*w.s = v
	return nil
}

func (w waitValue) Type() string { return "bool" }

func report(env *Env, j *knockJob, got sender.Opened, dryRun bool) {
	res, w := got.Result, j.plan.Wait
	what := derive.Knocks(res.Knocks).Join(" ")
	if j.plan.Request.Mode == derive.ModePacket {
		what += fmt.Sprintf(", %d-byte payload", res.Size)
	}
	switch {
	case dryRun:
		fmt.Fprintf(env.Stdout, "dry run: nothing sent (step %d: %s)\n", res.Step, what)
	case w != nil:
		fmt.Fprintf(env.Stdout, "%s: %v open %s after the first knock (step %d, attempt %d)\n",
			j.prof.Name, w.Addr, fmtMillis(got.Elapsed), res.Step, got.Attempts)
	case j.plan.Request.Mode == derive.ModePacket:
		fmt.Fprintf(env.Stdout, "%s: sent a packet knock %s to %v (step %d)\n", j.prof.Name, what, j.plan.Request.Dst, res.Step)
	default:
		fmt.Fprintf(env.Stdout, "%s: sent %d knocks to %v (step %d)\n", j.prof.Name, len(res.Knocks), j.plan.Request.Dst, res.Step)
	}
}

func fmtMillis(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
