package clientcmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/spf13/cobra"
)

func newConnectCmd(env *Env) *cobra.Command {
	var f knockFlags
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "connect TARGET PORT",
		Short: "Knock, wait for PORT to open, then relay stdin and stdout to it",
		Long: `Knock, wait for the TCP service on PORT to answer, and relay standard
input and output to that connection: a ProxyCommand for ssh. The knock
and the connection use the same address. When the profile knocked in
this step or the previous one (send --wait just before), connect first
tries PORT for up to 1.5s and relays without knocking while it is open.

  ssh -o ProxyCommand='otpknock connect %h %p' host

or in ~/.ssh/config:

  Host gw1
      ProxyCommand otpknock connect %h %p

When two profiles knock the host, name one: ProxyCommand otpknock
connect --profile NAME %h %p. A packet profile behind NAT learns its
public address by STUN (--stun, --nat, --no-source: see otpknock send).`,
		Args: args(2, 2, "TARGET and PORT"),
		RunE: func(cmd *cobra.Command, a []string) error {
			port, err := strconv.ParseUint(a[1], 10, 16)
			if err != nil || port == 0 {
				return usage(fmt.Errorf("PORT: %q must be a number from 1 to 65535", a[1]))
			}
			if timeout <= 0 || timeout > 5*time.Minute {
				return usage(fmt.Errorf("--timeout: %v must be from 1ms to 5m", timeout))
			}
			waitFor := func(profile.Profile) (uint16, time.Duration, error) { return uint16(port), timeout, nil }
			j, err := prepare(cmd.Context(), env, a[0], &f, false, waitFor)
			if err != nil {
				return err
			}
			if f.verbose {
				j.plan.Describe(env.Stderr)
			}
			if conn := stillOpen(cmd.Context(), env, j, f.verbose); conn != nil {
				return relay(conn, env.Stdin, env.Stdout)
			}
			got, err := j.client.Knock(cmd.Context(), j.plan, f.retries)
			if err != nil {
				return knockError(err)
			}
			if f.verbose {
				fmt.Fprintf(env.Stderr, "%v open %s after the first knock; relaying\n", j.plan.Wait.Addr, fmtMillis(got.Elapsed))
			}
			return relay(got.Conn, env.Stdin, env.Stdout)
		},
	}
	f.register(c)
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for PORT after each sequence")
	return c
}

// probeFirst is the longest connect tries a service before knocking: a
// SYN and one retransmission (1 s on Linux) to a door that is closed,
// which drops them.
const probeFirst = 1500 * time.Millisecond

// stillOpen returns a connection to the service when the profile knocked
// in this step or the previous one, whose grant may still hold (a send
// --wait just before): knocking again would wait for a fresh step. It
// returns nil when the profile did not knock lately or the service does
// not answer within probeFirst.
func stillOpen(ctx context.Context, env *Env, j *knockJob, verbose bool) net.Conn {
	r, w := j.plan.Request, j.plan.Wait
	step := derive.Step(j.client.Clock.Now(), r.Params.Period)
	if !r.HaveLast || r.LastStep+1 < step || r.LastStep > step {
		return nil
	}
	conn, err := w.Prober.Probe(ctx, w.Addr, min(w.Timeout, probeFirst))
	if err != nil {
		if verbose {
			fmt.Fprintf(env.Stderr, "%v closed since step %d's knock; knocking\n", w.Addr, r.LastStep)
		}
		return nil
	}
	if verbose {
		fmt.Fprintf(env.Stderr, "%v still open from step %d's knock; relaying without knocking\n", w.Addr, r.LastStep)
	}
	return conn
}

// relay copies in to conn and conn to out until the service closes the
// connection; the end of in half-closes it.
func relay(conn net.Conn, in io.Reader, out io.Writer) error {
	defer conn.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, conn)
		done <- err
	}()
	go func() {
		io.Copy(conn, in)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("relaying: %w", err)
	}
	return nil
}
