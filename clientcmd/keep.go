package clientcmd

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/addrwatch"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/profile"
	"github.com/spf13/cobra"
)

// keepFlags are keep's own flags.
type keepFlags struct {
	every time.Duration
	wait  string
}

func newKeepCmd(env *Env) *cobra.Command {
	var f knockFlags
	var k keepFlags
	c := &cobra.Command{
		Use:   "keep TARGET [--every DURATION] [--wait tcp/PORT[,TIMEOUT]]",
		Short: "Stay running: knock, then knock again whenever your address changes",
		Long: `Knock once, then stay running and knock again whenever the address the
server would see changes: the route source toward the server (a new
Wi-Fi or mobile network, a DHCP lease, an IPv6 temporary address) or,
for a packet profile behind NAT, the public address it claims. For
services whose sessions roam (WireGuard, mosh), so the new address is
open before the session needs it.

On Linux it follows the kernel's address and route events (and looks
every 30s besides); elsewhere, or when it cannot follow them (a sandbox
without netlink: said once on standard error), it looks every 2s. --every also knocks
that often whatever changed (at least 10s). Each knock is one line on
standard output: when, why, the addresses and the result. A knock that
fails (no network yet) is said and retried at the next change. SIGINT
or SIGTERM ends it (exit 0).

--wait checks the service after each knock (default: the profile's
first TCP service, 5s, when it has one). TARGET and the other flags are
send's.`,
		Example: "  otpknock keep work\n  otpknock keep vpn.example.org --profile vpn --every 10m",
		Args:    args(1, 1, "one TARGET (profile or host)"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if k.every != 0 && (k.every < 10*time.Second || k.every > 24*time.Hour) {
				return usageErrorf("--every: %v must be 0 or from 10s to 24h", k.every)
			}
			return runKeep(cmd.Context(), env, a[0], &f, k, cmd.Flags().Changed("wait"))
		},
	}
	f.register(c)
	c.Flags().DurationVar(&k.every, "every", 0, "also knock this often (0: only when the address changes)")
	c.Flags().StringVar(&k.wait, "wait", "default", "the service to check after each knock, `tcp/PORT[,TIMEOUT]`; none: no check")
	return c
}

// keepBackstop is how often keep looks at the addresses besides the
// OS's events (a public address that changed behind the NAT;
// discovery's cache ages out); keepPoll is how often where the OS gives
// none, or subscribing to them failed.
const (
	keepBackstop = 30 * time.Second
	keepPoll     = 2 * time.Second
)

// keepWatcher returns keep's Watcher: it follows env's Events (the
// kernel's where it gives them) and falls back to polling, said once on
// standard error, when they fail.
func keepWatcher(env *Env, look func(context.Context) (addrwatch.Addrs, error)) *addrwatch.Watcher {
	w := &addrwatch.Watcher{Clock: env.Clock, Poll: keepPoll, Look: look}
	w.Events = env.Events
	if w.Events == nil && addrwatch.Supported {
		w.Events = addrwatch.Kernel{}
	}
	if w.Events != nil {
		w.Poll, w.Fallback = keepBackstop, keepPoll
		w.FellBack = func(err error) {
			fmt.Fprintf(env.Stderr, "no address events (%v): looking every %v instead\n", err, keepPoll)
		}
	}
	return w
}

// runKeep knocks, then knocks again on each address change or --every
// tick, until ctx ends.
func runKeep(ctx context.Context, env *Env, target string, f *knockFlags, k keepFlags, waitSet bool) error {
	waitFor := func(p profile.Profile) (uint16, time.Duration, error) {
		if k.wait == "none" {
			return 0, 0, nil
		}
		if _, ok := client.DefaultService(p); !ok && !waitSet {
			return 0, 0, nil
		}
		return parseWait(k.wait, p)
	}
	ks := &keeper{env: env, target: target, flags: f, wait: waitFor}
	w := keepWatcher(env, ks.look)
	changes := make(chan string, 1)
	errc := make(chan error, 1)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		errc <- w.Run(wctx, func(a addrwatch.Addrs, err error) error {
			if code := cli.ExitCode(err); err != nil && (code == cli.ExitUsage || code == cli.ExitNoProfile) {
				return err // a bad or missing profile, flag or store: not the network
			}
			changes <- "start"
			return nil
		}, func(old, new addrwatch.Addrs, err error) error {
			select { // a knock still running takes the latest change
			case <-changes:
			default:
			}
			changes <- fmt.Sprintf("was %v", old)
			return nil
		})
	}()
	var every <-chan time.Time
	if k.every > 0 {
		t := env.Clock.NewTicker(k.every)
		defer t.Stop()
		every = t.C()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case why := <-changes:
			ks.knock(ctx, why)
		case <-every:
			ks.knock(ctx, "every "+k.every.String())
		}
	}
}

// keeper plans and sends keep's knocks.
type keeper struct {
	env    *Env
	target string
	flags  *knockFlags
	wait   waitFunc
}

// look plans a knock, which finds the route source and the claim, and
// returns those addresses.
func (k *keeper) look(ctx context.Context) (addrwatch.Addrs, error) {
	j, err := prepare(ctx, k.env, k.target, k.flags, false, k.wait)
	if err != nil {
		return addrwatch.Addrs{}, err
	}
	return jobAddrs(j), nil
}

// jobAddrs returns the addresses j knocks from: its route source, and
// what it claims (a packet knock) or derives with (a source-bound one).
func jobAddrs(j *knockJob) addrwatch.Addrs {
	r := j.plan.Request
	a := addrwatch.Addrs{Route: j.plan.RouteSrc, Claim: append([]netip.Addr(nil), r.Claim.Addrs...)}
	if r.Src.IsValid() {
		a.Claim = append(a.Claim, r.Src)
	}
	return a
}

// knock plans afresh (the step used, the addresses), knocks and says so
// in one line; a failure is said, not returned: keep stays running.
func (k *keeper) knock(ctx context.Context, why string) {
	at := k.env.Clock.Now().UTC().Format(time.RFC3339)
	j, err := prepare(ctx, k.env, k.target, k.flags, false, k.wait)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(k.env.Stdout, "%s %s: not knocked (%s): %v\n", at, k.target, why, err)
		}
		return
	}
	name, addrs := j.prof.Name, jobAddrs(j)
	got, err := j.client.Knock(ctx, j.plan, k.flags.retries)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		fmt.Fprintf(k.env.Stdout, "%s %s: knock failed (%s; %v): %v\n", at, name, why, addrs, err)
	case j.plan.Wait != nil:
		got.Conn.Close()
		fmt.Fprintf(k.env.Stdout, "%s %s: knocked (%s; %v): step %d, %v open %s after the first knock\n",
			at, name, why, addrs, got.Result.Step, j.plan.Wait.Addr, fmtMillis(got.Elapsed))
	default:
		fmt.Fprintf(k.env.Stdout, "%s %s: knocked (%s; %v): step %d sent to %v\n", at, name, why, addrs, got.Result.Step, j.plan.Request.Dst)
	}
}
