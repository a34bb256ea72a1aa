package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

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
	c.Flags().StringVar(&f.publicIP, "public-ip", "", "your address as the server sees it (source-bound profiles behind NAT)")
	c.Flags().DurationVar(&f.offset, "time-offset", 0, "add this to the local clock (e.g. -40s when it runs fast)")
	c.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "print each packet as it leaves")
	c.Flags().BoolVar(&f.noRaw, "no-raw", false, "never use raw sockets, even when privileged")
}

// knockJob is a resolved knock: the profile, the address and the knocker.
type knockJob struct {
	store   *profile.Store
	state   *profile.State
	prof    profile.Profile
	req     sender.Request
	knocker *sender.Knocker
	prober  sender.Prober
}

// prepare resolves the target to a profile and an address and builds the
// knocker.
func prepare(ctx context.Context, env *Env, target string, f *knockFlags) (*knockJob, error) {
	if f.v4 && f.v6 {
		return nil, fmt.Errorf("-4 and -6: choose one")
	}
	if f.gap < 0 || f.gap > 10*time.Second {
		return nil, fmt.Errorf("--gap: %v must be from 0 to 10s", f.gap)
	}
	if f.retries < 0 || f.retries > 20 {
		return nil, fmt.Errorf("--retries: %d must be from 0 to 20", f.retries)
	}
	store, err := openStore(env)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	dst, err := resolve(ctx, host, f)
	if err != nil {
		return nil, err
	}
	state, err := profile.LoadState(profile.StatePath(store.Path))
	if err != nil {
		return nil, err
	}
	j := &knockJob{store: store, state: state, prof: p, prober: env.Prober}
	j.req = sender.Request{Secret: p.Secret, ServerID: p.ServerID, Params: p.Params, Dst: dst}
	j.req.LastStep, j.req.HaveLast = state.LastStep(p.Name)
	route := func() (netip.Addr, error) { return sender.RouteSource(dst) }
	if j.req.Src, err = sourceArg("--public-ip", f.publicIP, "profile "+p.Name, p.BindSource, route); err != nil {
		return nil, err
	}
	w := env.Writer
	if w == nil {
		w = &sender.Kernel{NoRaw: f.noRaw}
	}
	if j.prober == nil {
		j.prober = sender.Dialer{}
	}
	j.knocker = &sender.Knocker{Clock: clock.Offset{Clock: env.Clock, By: f.offset}, Writer: w, Gap: f.gap, Status: env.Stderr}
	if f.verbose {
		j.knocker.Verbose = env.Stderr
	}
	return j, nil
}

// resolve turns a host into one address of the requested family.
func resolve(ctx context.Context, host string, f *knockFlags) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if (f.v4 && !a.Is4()) || (f.v6 && a.Is4()) {
			return netip.Addr{}, fmt.Errorf("%s is not an %s address", host, map[bool]string{true: "IPv4", false: "IPv6"}[f.v4])
		}
		return a, nil
	}
	network := "ip"
	if f.v4 {
		network = "ip4"
	} else if f.v6 {
		network = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolving %s: %v", host, err)
	}
	return addrs[0].Unmap(), nil
}

// sourceArg checks the flag (--source, --public-ip) that gives the
// address the server sees for who ("profile work", "user bob"): it is
// for source-bound ones only (bound), and returns the zero Addr for the
// others. A bound one without the flag gets fallback's address, or, with
// no fallback, an error asking for the flag.
func sourceArg(flag, value, who string, bound bool, fallback func() (netip.Addr, error)) (netip.Addr, error) {
	switch {
	case !bound && value != "":
		return netip.Addr{}, fmt.Errorf("%s: %s is not source-bound", flag, who)
	case !bound:
		return netip.Addr{}, nil
	case value == "" && fallback != nil:
		return fallback()
	case value == "":
		return netip.Addr{}, fmt.Errorf("%s is source-bound: pass %s ADDR, the address the server sees the knocks come from", who, flag)
	}
	a, err := netip.ParseAddr(value)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s: %q is not an IP address", flag, value)
	}
	return a.Unmap(), nil
}

// record returns the callback that keeps each used step.
func (j *knockJob) record(r sender.Result) error {
	return j.state.Record(j.prof.Name, r.Step)
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
		for _, k := range p.Open {
			if k.Proto == derive.TCP {
				return k.Port, timeout, nil
			}
		}
		return 0, 0, fmt.Errorf("--wait: profile %s opens no TCP service to check; name one: --wait tcp/PORT", p.Name)
	}
	k, err := derive.ParseKnock(svc)
	if err != nil || k.Proto != derive.TCP {
		return 0, 0, fmt.Errorf("--wait: %q must be tcp/PORT[,TIMEOUT] (only TCP can be checked)", s)
	}
	return k.Port, timeout, nil
}
