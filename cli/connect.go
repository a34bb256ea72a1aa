package cli

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

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
and the connection use the same address.

  ssh -o ProxyCommand='otpknock connect %h %p' host

or in ~/.ssh/config:

  Host gw1
      ProxyCommand otpknock connect %h %p`,
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
