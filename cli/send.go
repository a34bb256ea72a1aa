package cli

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

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
		Long: `Send the current knock sequence. TARGET is a profile name or a host
(with --profile when several profiles knock that host).

With --wait, check that the service opened: connect to it until it answers
or the timeout passes (default: the profile's first TCP service, 5s), and
knock again in a later step while it stays closed. A step is used once:
when this profile already knocked in the current step, send waits for the
next one and says so.

Exit codes: 0 opened (or sent, without --wait), 1 not opened, 2 usage or
configuration error.`,
		Example: "  otpknock send work --wait\n  otpknock send knock.example.org --profile work --wait tcp/22,10s -v",
		Args:    args(1, 2, "one TARGET (profile or host)"),
		RunE: func(cmd *cobra.Command, a []string) error {
			// "--wait tcp/22" parses as a bare --wait and an argument.
			if len(a) == 2 {
				if !cmd.Flags().Changed("wait") || wait != "default" {
					return fmt.Errorf("%s: want one TARGET (profile or host), got %q and %q", cmd.CommandPath(), a[0], a[1])
				}
				wait = a[1]
			}
			j, err := prepare(cmd.Context(), env, a[0], &f)
			if err != nil {
				return err
			}
			j.req.DryRun = dryRun
			if dryRun {
				j.knocker.Verbose = env.Stdout
			}
			var w *sender.Wait
			if cmd.Flags().Changed("wait") {
				port, timeout, err := parseWait(wait, j.prof)
				if err != nil {
					return err
				}
				w = &sender.Wait{Prober: j.prober, Addr: netip.AddrPortFrom(j.req.Dst, port), Timeout: timeout}
			}
			got, err := j.knocker.Open(cmd.Context(), j.req, w, f.retries, j.record)
			if err != nil {
				return err
			}
			if got.Conn != nil {
				got.Conn.Close()
			}
			report(env, j, w, got, dryRun)
			return nil
		},
	}
	f.register(c)
	c.Flags().StringVar(&wait, "wait", "", "after knocking, wait for tcp/PORT[,TIMEOUT] to open (default: the profile's service)")
	c.Flags().Lookup("wait").NoOptDefVal = "default"
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the packets, send nothing")
	return c
}

func report(env *Env, j *knockJob, w *sender.Wait, got sender.Opened, dryRun bool) {
	var seq []string
	for _, k := range got.Result.Knocks {
		seq = append(seq, k.String())
	}
	switch {
	case dryRun:
		fmt.Fprintf(env.Stdout, "dry run: nothing sent (step %d: %s)\n", got.Result.Step, strings.Join(seq, " "))
	case w != nil:
		fmt.Fprintf(env.Stdout, "%s: %v open %s after the first knock (step %d, attempt %d)\n",
			j.prof.Name, w.Addr, fmtMillis(got.Elapsed), got.Result.Step, got.Attempts)
	default:
		fmt.Fprintf(env.Stdout, "%s: sent %d knocks to %v (step %d)\n", j.prof.Name, len(seq), j.req.Dst, got.Result.Step)
	}
}

func fmtMillis(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
