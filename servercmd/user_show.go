package servercmd

import (
	"fmt"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

func newUserShowCmd(env *Env, path *string) *cobra.Command {
	var source string
	var offset time.Duration
	c := &cobra.Command{
		Use:               "show NAME [--source ADDR]",
		ValidArgsFunction: cli.CompleteFirst(userNames),
		Short:             "Print the sequence or packet element the server expects from a user now",
		Long: `Print the knock sequence the server expects from the user in the
current step, in the form of the client's otpknock show: compare the two
when a knock does not open. Source-bound users need --source, the address
the server sees. For a packet user (knock: packet) it prints the element
the packet goes to, "packet udp/PORT" or "packet icmp/SEQ"; it does not
depend on the source.`,
		Args: cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			cfg, err := config.Load(*path)
			if err != nil {
				return cli.Usage(err)
			}
			u, ok := cfg.User(a[0])
			if !ok {
				return cli.Usage(fmt.Errorf("no user %q in %s", a[0], cfg.Path))
			}
			secret, err := cfg.ReadSecret(u.Name)
			if err != nil {
				return cli.Usage(err)
			}
			now := clock.Offset{Clock: env.Clock, By: offset}.Now()
			step := derive.Step(now, cfg.Params.Period)
			line, err := expected(cfg, u, secret, step, source)
			if err != nil {
				return cli.Usage(err)
			}
			left := int((derive.Left(now, cfg.Params.Period) + time.Second - 1) / time.Second)
			fmt.Fprintln(env.Stdout, line)
			fmt.Fprintf(env.Stderr, "step %d, %ds left\n", step, left)
			if !u.GrantPrefix.IsZero() {
				fmt.Fprintf(env.Stderr, "grants open %s around the address (grant_prefix)\n", grantPrefixText(u.GrantPrefix))
			}
			if u.Auth == derive.AuthEd25519 {
				fmt.Fprintf(env.Stderr, "key %s (ed25519: the server holds the public key and the locator only)\n", derive.Fingerprint(u.PublicKey))
			}
			return nil
		},
	}
	c.Flags().StringVar(&source, "source", "", "the client's address (source-bound users)")
	c.Flags().DurationVar(&offset, "time-offset", 0, "add this to the local clock")
	return c
}

// expected is what the server expects from u in step: the sequence, or
// "packet ELEMENT" for a packet user.
func expected(cfg *config.Config, u config.User, secret []byte, step uint64, source string) (string, error) {
	if u.Knock == derive.ModePacket {
		k, err := derive.PacketElement(u.Auth, secret, cfg.ServerID, cfg.Params, step)
		return "packet " + k.String(), err
	}
	src, err := cli.SourceArg("--source", source, "user "+u.Name, u.BindSource, nil)
	if err != nil {
		return "", err
	}
	ks, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, step, src)
	if err != nil {
		return "", err
	}
	line, _ := cli.FormatSequence(ks, "plain", u.Name)
	return line, nil
}
