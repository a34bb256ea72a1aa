package clientcmd

import (
	"context"
	"fmt"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/spf13/cobra"
)

type showFlags struct {
	format string
	json   bool
	source string
	offset time.Duration
}

// showJSON is the --json output of show.
type showJSON struct {
	Profile     string   `json:"profile"`
	Host        string   `json:"host"`
	Step        uint64   `json:"step"`
	SecondsLeft int      `json:"seconds_left"`
	ValidUntil  string   `json:"valid_until"`
	Sequence    []string `json:"sequence"`
	// Knock is the mode; a packet profile's sequence is its element.
	Knock       string   `json:"knock"`
	Claim       []string `json:"claim,omitempty"`
	ClaimSource bool     `json:"claim_source,omitempty"`
	PayloadMin  int      `json:"payload_min,omitempty"`
	PayloadMax  int      `json:"payload_max,omitempty"`
	// Public lists the cached public addresses, one line each.
	Public []string `json:"public,omitempty"`
}

func newShowCmd(env *Env) *cobra.Command {
	var f showFlags
	c := &cobra.Command{
		Use:   "show [PROFILE]",
		Short: "Print the current knock sequence and the time left in its step",
		Long: `Print the knock sequence of the current time step and how long it
lasts. For a packet profile: its element (the one packet's destination),
the addresses a knock would claim and the payload sizes it draws from.
PROFILE is a profile name or host; it may be left out when there is
only one profile. --format knock prints the form of the classic knock
client (23456:tcp). The sequence goes to standard output, the step and
the time left in it to standard error.`,
		Example: "  otpknock show work\n  knock knock.example.org $(otpknock show work --format knock)",
		Args:    args(0, 1, "at most one PROFILE"),
		RunE: func(cmd *cobra.Command, a []string) error {
			target := ""
			if len(a) == 1 {
				target = a[0]
			}
			return show(cmd.Context(), env, target, f)
		},
	}
	c.Flags().StringVar(&f.format, "format", "plain", "output form: plain (tcp/23456) or knock (23456:tcp)")
	c.Flags().BoolVar(&f.json, "json", false, "print JSON")
	c.Flags().StringVar(&f.source, "public-ip", "", "your address as the server sees it (source-bound profiles), as for send")
	// --source was the flag's first name.
	c.Flags().StringVar(&f.source, "source", "", "the former name of --public-ip")
	c.Flags().MarkHidden("source")
	c.Flags().DurationVar(&f.offset, "time-offset", 0, "add this to the local clock (e.g. -40s when it runs fast)")
	return c
}

func show(ctx context.Context, env *Env, target string, f showFlags) error {
	if f.format != "plain" && f.format != "knock" {
		return usage(fmt.Errorf("--format: %q must be plain or knock", f.format))
	}
	s, err := openStore(env)
	if err != nil {
		return usage(err)
	}
	p, err := s.Lookup(target)
	if err != nil {
		return usage(err)
	}
	if p.Knock == derive.ModePacket {
		return showPacket(ctx, env, s, p, f)
	}
	src, err := cli.SourceArg("--public-ip", f.source, "profile "+p.Name, p.BindSource, nil)
	if err != nil {
		return usage(err)
	}
	now := clock.Offset{Clock: env.Clock, By: f.offset}.Now()
	step := derive.Step(now, p.Params.Period)
	secret, serverID, err := p.KeyFor(p.Host) // a fleet profile's key for its default host
	if err != nil {
		return usage(err)
	}
	ks, err := derive.Sequence(secret, serverID, p.Params, step, src)
	if err != nil {
		return usage(err)
	}
	out := newShowJSON(p, now, ks)
	if f.json {
		return writeJSON(env, out)
	}
	line, err := cli.FormatSequence(ks, f.format, p.Name)
	if err != nil {
		return usage(err)
	}
	fmt.Fprintln(env.Stdout, line)
	fmt.Fprintf(env.Stderr, "step %d, %ds left\n", step, out.SecondsLeft)
	return nil
}

// showPacket prints a packet profile's element of the current step, the
// addresses a knock would claim (the route source of each family the
// host resolves to), the payload sizes it draws from and the public
// addresses discovery keeps in its cache, with their age. It sends
// nothing; a host name is looked up once.
func showPacket(ctx context.Context, env *Env, s *profile.Store, p profile.Profile, f showFlags) error {
	if f.format == "knock" {
		return usage(fmt.Errorf("--format knock: profile %s knocks with one packet carrying a MAC, which the knock client cannot send: use otpknock send", p.Name))
	}
	if f.source != "" {
		return usage(fmt.Errorf("--public-ip: profile %s knocks with packets, whose element does not depend on the source (send --public-ip adds it to the claim)", p.Name))
	}
	now := clock.Offset{Clock: env.Clock, By: f.offset}.Now()
	step := derive.Step(now, p.Params.Period)
	secret, serverID, err := p.KeyFor(p.Host) // a fleet profile's key for its default host
	if err != nil {
		return usage(err)
	}
	el, err := derive.PacketElement(p.Auth, secret, serverID, p.Params, step)
	if err != nil {
		return usage(err)
	}
	c := &client.Client{Clock: env.Clock}
	pl, err := c.Plan(ctx, p, client.Options{DryRun: true})
	if err != nil {
		return err
	}
	cl := pl.Request.Claim
	out := newShowJSON(p, now, []derive.Knock{el})
	out.Claim, out.ClaimSource = []string{}, cl.Source
	for _, a := range cl.Addrs {
		out.Claim = append(out.Claim, a.String())
	}
	out.PayloadMin, out.PayloadMax = derive.SizeRange(cl) // the same in both modes (spec section 11.9)
	cached, cacheErr := (&publicaddr.Cache{Path: publicaddr.CachePath(s.Path)}).Entries(env.Clock.Now())
	for _, r := range cached {
		out.Public = append(out.Public, r.String())
	}
	if f.json {
		return writeJSON(env, out)
	}
	fmt.Fprintln(env.Stdout, el)
	fmt.Fprintf(env.Stderr, "step %d, %ds left\n", step, out.SecondsLeft)
	fmt.Fprintf(env.Stderr, "packet knock to %v: claim %s; payload %d-%d bytes, drawn per packet\n",
		pl.Request.Dst, client.ClaimString(cl), out.PayloadMin, out.PayloadMax)
	for _, n := range pl.Notes {
		fmt.Fprintln(env.Stderr, n)
	}
	for _, r := range out.Public {
		fmt.Fprintln(env.Stderr, "public address: "+r)
	}
	if cacheErr != nil {
		fmt.Fprintln(env.Stderr, publicaddr.OneLine(cacheErr))
	}
	return nil
}

func newShowJSON(p profile.Profile, now time.Time, ks []derive.Knock) showJSON {
	step := derive.Step(now, p.Params.Period)
	out := showJSON{Profile: p.Name, Host: p.Host, Step: step, Knock: p.Knock.String(),
		SecondsLeft: int((derive.Left(now, p.Params.Period) + time.Second - 1) / time.Second),
		ValidUntil:  derive.StepStart(step+1, p.Params.Period).UTC().Format(time.RFC3339)}
	for _, k := range ks {
		out.Sequence = append(out.Sequence, k.String())
	}
	return out
}
