package clientcmd

import (
	"context"
	"fmt"
	"github.com/otpknock/otpknock/cli"
	"net/netip"
	"strings"
	"time"

	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/sender"
	"github.com/spf13/cobra"
)

// knockFlags are the flags send and connect share.
type knockFlags struct {
	profile  string
	v4, v6   bool
	gap      time.Duration
	retries  int
	publicIP string
	offset   time.Duration
	verbose  bool
	noRaw    bool
}

func (f *knockFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.profile, "profile", "", "profile to use when TARGET is a host")
	c.Flags().BoolVarP(&f.v4, "ipv4", "4", false, "knock over IPv4")
	c.Flags().BoolVarP(&f.v6, "ipv6", "6", false, "knock over IPv6")
	c.Flags().DurationVar(&f.gap, "gap", sender.DefaultGap, "time between knocks")
	c.Flags().IntVar(&f.retries, "retries", 3, "sequences to send again, each in a later step, while the service stays closed")
	c.Flags().StringVar(&f.publicIP, "public-ip", "", "your address as the server sees it: the bound source of source-bound profiles, one more address to open for packet profiles")
	c.Flags().DurationVar(&f.offset, "time-offset", 0, "add this to the local clock (e.g. -40s when it runs fast)")
	c.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "print each packet as it leaves")
	c.Flags().BoolVar(&f.noRaw, "no-raw", false, "never use raw sockets, even when privileged")
}

// knockJob is a resolved knock: the profile, the plan and the client
// that carries it out.
type knockJob struct {
	prof   profile.Profile
	client *client.Client
	plan   *client.Plan
}

// waitFunc returns the service port (0: none) and timeout to wait for
// after knocking for p.
type waitFunc func(p profile.Profile) (uint16, time.Duration, error)

// prepare resolves the target to a profile, an address and a plan, and
// builds the client; it sends nothing.
func prepare(ctx context.Context, env *Env, target string, f *knockFlags, dryRun bool, wait waitFunc) (*knockJob, error) {
	if f.v4 && f.v6 {
		return nil, usageErrorf("-4 and -6: choose one")
	}
	if f.gap < 0 || f.gap > 10*time.Second {
		return nil, usageErrorf("--gap: %v must be from 0 to 10s", f.gap)
	}
	if f.retries < 0 || f.retries > 20 {
		return nil, usageErrorf("--retries: %d must be from 0 to 20", f.retries)
	}
	store, err := openStore(env)
	if err != nil {
		return nil, usage(err)
	}
	var p profile.Profile
	host := target
	if f.profile != "" {
		p, err = store.Get(f.profile)
	} else {
		p, err = store.Lookup(target)
		if err == nil && p.Name == target {
			host = p.Host
		}
	}
	if err != nil {
		return nil, usage(err)
	}
	o := client.Options{Host: host, DryRun: dryRun}
	if f.v4 {
		o.Family = client.IPv4
	} else if f.v6 {
		o.Family = client.IPv6
	}
	if a, err := netip.ParseAddr(host); err == nil && (f.v4 && !a.Unmap().Is4() || f.v6 && !a.Is6()) {
		family := "IPv6"
		if f.v4 {
			family = "IPv4"
		}
		return nil, usageErrorf("%s is not an %s address", host, family)
	}
	none := func() (netip.Addr, error) { return netip.Addr{}, nil }
	claims := p.BindSource || p.Knock == derive.ModePacket
	if o.PublicIP, err = cli.SourceArg("--public-ip", f.publicIP, "profile "+p.Name, claims, none); err != nil {
		return nil, usage(err)
	}
	if _, err := netip.ParseAddr(host); err != nil && dryRun && p.BindSource && !o.PublicIP.IsValid() {
		return nil, usageErrorf("profile %s is source-bound and a dry run does not resolve %s: pass --public-ip ADDR, the address the server sees the knocks come from", p.Name, host)
	}
	if o.Wait, o.Timeout, err = wait(p); err != nil {
		return nil, usage(err)
	}
	state, err := profile.LoadState(profile.StatePath(store.Path))
	if err != nil {
		return nil, usage(err)
	}
	c := &client.Client{Clock: clock.Offset{Clock: env.Clock, By: f.offset}, Writer: env.Writer, Prober: env.Prober,
		State: state, NoRaw: f.noRaw, Gap: f.gap, Status: env.Stderr}
	if f.verbose {
		c.Verbose = env.Stderr
	}
	if dryRun {
		c.Status, c.Verbose = env.Stdout, env.Stdout
	}
	pl, err := c.Plan(ctx, p, o)
	if err != nil {
		return nil, err // resolving the host, routing: the network
	}
	return &knockJob{prof: p, client: c, plan: pl}, nil
}

// parseWait parses --wait's PROTO/PORT[,TIMEOUT]; "default" is the
// profile's first TCP service.
func parseWait(s string, p profile.Profile) (uint16, time.Duration, error) {
	timeout := 5 * time.Second
	svc, t, hasT := strings.Cut(s, ",")
	if hasT {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return 0, 0, fmt.Errorf("--wait: timeout %q must be a duration up to 5m, e.g. 10s", t)
		}
		timeout = d
	}
	if svc == "default" || svc == "" {
		if port, ok := client.DefaultService(p); ok {
			return port, timeout, nil
		}
		return 0, 0, fmt.Errorf("--wait: profile %s opens no TCP service to check; name one: --wait tcp/PORT", p.Name)
	}
	k, err := derive.ParseKnock(svc)
	if err != nil || k.Proto != derive.TCP {
		return 0, 0, fmt.Errorf("--wait: %q must be tcp/PORT[,TIMEOUT] (only TCP can be checked)", s)
	}
	return k.Port, timeout, nil
}
