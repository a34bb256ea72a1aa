package clientcmd

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/publicaddr"
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
	stun     string
	noSource bool
	nat      bool
	command  string // the command's name, for messages
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
	registerStun(c, &f.stun)
	c.Flags().BoolVar(&f.noSource, "no-source", false, "packet profiles: never ask the server to open the address the knock comes from (the fallback behind NAT when no public address is known); fail instead")
	c.Flags().BoolVar(&f.nat, "nat", false, "packet profiles: your address is translated by a NAT the client does not recognise (a server on a private address, an office LAN, a VPN): claim the public address --stun finds, else ask the server to open the address the knock comes from")
	f.command = c.Name()
}

// registerStun adds --stun to c.
func registerStun(c *cobra.Command, s *string) {
	c.Flags().StringVar(s, "stun", "", "packet profiles behind NAT: the `none|HOST:PORT,...` STUN servers that tell your public address (default: "+strings.Join(publicaddr.DefaultServers(), ",")+"); none: no discovery")
}

// finder returns the public-address discovery of --stun s for the
// profile store at storePath: nil for none. Without --stun it asks the
// default public servers and takes only a globally reachable address;
// a server named with --stun may sit beside the otpknock server, on a
// private network, so its answer is taken when it is any unicast
// address. env.Finder, when set, builds it instead (tests).
func finder(env *Env, s, storePath string) (client.Finder, error) {
	var servers []string // nil: the defaults
	if s != "" {
		var err error
		if servers, err = publicaddr.ParseServers(s); err != nil {
			return nil, usageErrorf("--stun: %v", err)
		}
		if len(servers) == 0 {
			return nil, nil
		}
	}
	cache := &publicaddr.Cache{Path: publicaddr.CachePath(storePath)}
	if env.Finder != nil {
		return env.Finder(servers, cache), nil
	}
	f := &publicaddr.Finder{Servers: servers, Clock: env.Clock, Cache: cache}
	if servers != nil {
		f.Accept = func(a netip.Addr) bool { return a.Unmap().IsGlobalUnicast() }
	}
	return f, nil
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
		return nil, lookupError(store, target, f, err)
	}
	fd, err := finder(env, f.stun, store.Path)
	if err != nil {
		return nil, err
	}
	o := client.Options{Host: host, DryRun: dryRun, NoSource: f.noSource, NAT: f.nat}
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
		State: state, NoRaw: f.noRaw, Gap: f.gap, Status: env.Stderr, Finder: fd}
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

// lookupError classes a failed profile lookup: a target several
// profiles knock is a usage error naming them (ambiguous); one no
// profile knocks, or a --profile no profile is called, exits
// cli.ExitNoProfile.
func lookupError(store *profile.Store, target string, f *knockFlags, err error) error {
	if f.profile == "" {
		if amb := ambiguous(store, target, f.command, err); amb != err {
			return usage(amb)
		}
	}
	if f.profile == "" && target == "" && len(store.Profiles) > 0 {
		return usage(err) // several profiles and no target: name one
	}
	return cli.NoProfile(err)
}

// ambiguous returns err, or, when several profiles knock the host
// target, an error naming them and --profile: ssh's %h cannot name a
// profile, so a ProxyCommand line must.
func ambiguous(store *profile.Store, target, command string, err error) error {
	var names []string
	for _, p := range store.Profiles {
		if strings.EqualFold(p.Host, target) {
			names = append(names, p.Name)
		}
	}
	if len(names) < 2 {
		return err
	}
	use := fmt.Sprintf("otpknock send %s --profile %s", target, names[0])
	if command == "connect" {
		use = fmt.Sprintf("ssh -o ProxyCommand='otpknock connect --profile %s %%h %%p' %s", names[0], target)
	}
	return fmt.Errorf("%d profiles knock %s (%s): pass --profile NAME, e.g. %s", len(names), target, strings.Join(names, ", "), use)
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
	if r, _ := k.Proto.Info(); err != nil || !r.Connect {
		return 0, 0, fmt.Errorf("--wait: %q must be tcp/PORT[,TIMEOUT] (only TCP can be checked)", s)
	}
	return k.Port, timeout, nil
}
