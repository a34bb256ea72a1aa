package cli

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
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
	src, err := sourceFor(p, f.source)
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

// sourceFor returns the bound source address for a source-bound profile.
func sourceFor(p profile.Profile, flag string) (netip.Addr, error) {
	if !p.BindSource {
		if flag != "" {
			return netip.Addr{}, fmt.Errorf("--source: profile %s is not source-bound", p.Name)
		}
		return netip.Addr{}, nil
	}
	if flag == "" {
		return netip.Addr{}, fmt.Errorf("profile %s is source-bound: pass --source ADDR, the address the server sees you knock from", p.Name)
	}
	a, err := netip.ParseAddr(flag)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("--source: %q is not an IP address", flag)
	}
	return a, nil
}

func formatSequence(ks []derive.Knock, format, name string) (string, error) {
	parts := make([]string, len(ks))
	for i, k := range ks {
		if format == "plain" {
			parts[i] = k.String()
			continue
		}
		if k.Proto == derive.ICMP {
			return "", fmt.Errorf("profile %s knocks with icmp, which the knock client cannot send: use otpknock send", name)
		}
		parts[i] = strconv.Itoa(int(k.Port)) + ":" + k.Proto.String()
	}
	return strings.Join(parts, " "), nil
}
