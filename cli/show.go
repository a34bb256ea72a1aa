package cli

import (
	"fmt"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
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
}

func newShowCmd(env *Env) *cobra.Command {
	var f showFlags
	c := &cobra.Command{
		Use:   "show [PROFILE]",
		Short: "Print the current knock sequence and the time left in its step",
		Long: `Print the knock sequence of the current time step and how long it
lasts. PROFILE is a profile name or host; it may be left out when there is
only one profile. --format knock prints the form of the classic knock
client (23456:tcp).`,
		Example: "  otpknock show work\n  knock $(otpknock show work --format knock | head -1)",
		Args:    args(0, 1, "at most one PROFILE"),
		RunE: func(cmd *cobra.Command, a []string) error {
			target := ""
			if len(a) == 1 {
				target = a[0]
			}
			return show(env, target, f)
		},
	}
	c.Flags().StringVar(&f.format, "format", "plain", "output form: plain (tcp/23456) or knock (23456:tcp)")
	c.Flags().BoolVar(&f.json, "json", false, "print JSON")
	c.Flags().StringVar(&f.source, "source", "", "your address as the server sees it (source-bound profiles)")
	c.Flags().DurationVar(&f.offset, "time-offset", 0, "add this to the local clock (e.g. -40s when it runs fast)")
	return c
}

func show(env *Env, target string, f showFlags) error {
	if f.format != "plain" && f.format != "knock" {
		return fmt.Errorf("--format: %q must be plain or knock", f.format)
	}
	s, err := openStore(env)
	if err != nil {
		return err
	}
	p, err := s.Lookup(target)
	if err != nil {
		return err
	}
	src, err := sourceArg("--source", f.source, "profile "+p.Name, p.BindSource, nil)
	if err != nil {
		return err
	}
	now := clock.Offset{Clock: env.Clock, By: f.offset}.Now()
	step := derive.Step(now, p.Params.Period)
	ks, err := derive.Sequence(p.Secret, p.ServerID, p.Params, step, src)
	if err != nil {
		return err
	}
	left := int((derive.Left(now, p.Params.Period) + time.Second - 1) / time.Second)
	if f.json {
		out := showJSON{Profile: p.Name, Host: p.Host, Step: step, SecondsLeft: left,
			ValidUntil: derive.StepStart(step+1, p.Params.Period).UTC().Format(time.RFC3339)}
		for _, k := range ks {
			out.Sequence = append(out.Sequence, k.String())
		}
		return writeJSON(env, out)
	}
	line, err := formatSequence(ks, f.format, p.Name)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, line)
	fmt.Fprintf(env.Stdout, "step %d, %ds left\n", step, left)
	return nil
}

// formatSequence writes a sequence as --format asks: plain (tcp/23456,
// space-separated) or knock (the knock client's 23456:tcp).
func formatSequence(ks []derive.Knock, format, name string) (string, error) {
	if format == "plain" {
		return derive.Knocks(ks).Join(" "), nil
	}
	args, ok := derive.Knocks(ks).KnockArgs()
	if !ok {
		return "", fmt.Errorf("profile %s knocks with icmp, which the knock client cannot send: use otpknock send", name)
	}
	return args, nil
}
