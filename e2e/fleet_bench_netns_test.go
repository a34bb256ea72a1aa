package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/provision"
)

// Sizes of BenchmarkPool: knocks timed to open through the pool and to
// the lone server each, and grants fanned out in all.
const (
	benchOpens  = 20
	benchGrants = 200
)

// loneAddr is the lone server's address, on the pool's LAN.
var loneAddr = netip.MustParseAddr("198.18.3.50")

// BenchmarkPool measures, in one run in network namespaces, a pool of
// three members on Debian's nats-server beside a lone server:
//
//   - knock-to-open: from the client sending a packet knock to the first
//     connect that opens (connects of 2 ms each, one after another),
//     through the pool's load-balanced address and to the lone server,
//     alternating, benchOpens each;
//   - fan-out: benchGrants knocks (the pool's knock-to-open ones, then
//     knocks sent to m1 by users who all open tcp/2399), each granted by
//     one member and applied by the two others; per grant, the later of
//     the two members' times from the first member's grant to its own
//     kernel set; and, for that member, the grant's transit (to its
//     handler: the first member's publish, NATS, the scheduling of the
//     processes) and its apply (checks and the nftables set), from the
//     "pool grant" lines the members log;
//   - the host's noise meanwhile, with no otpknock code in the way: NATS
//     alone (a timestamp published every 5 ms by one connection of the
//     bench's process, received by another, through the same
//     nats-server), and how late 1 ms sleeps of the bench's process wake
//     up. Every hop of a grant (the granting member, nats-server, the
//     receiving member) pays such wake-ups, so on a busy host the
//     transit's p99 follows NATS alone's.
//
// It prints "knock-to-open ...", "fan-out p50 N ms p99 N ms" and the
// stages, and runs once whatever b.N (make bench-fleet: -benchtime 1x).
//
//	sudo go test ./e2e -run '^$' -bench Pool -benchtime 1x
func BenchmarkPool(b *testing.B) {
	w := newPoolWorld(b, 1)
	w.startNATS()
	w.startMembers(benchOpens)
	start := time.Now()
	for u := range benchGrants {
		port := 2300 + u // the knocks timed to open: a port each
		if u >= benchOpens {
			port = 2399 // the others' grants are read from the logs: one port for all
		}
		if out, _, err := w.addUser(u, port); err != nil {
			b.Fatalf("user add u%d: %v\n%s", u, err, out)
		}
	}
	for i := range w.members {
		waitText(b, w.logs[i], fmt.Sprintf(`msg="fleet: users applied" users=%d`, benchGrants), 30*time.Second)
	}
	b.Logf("%d fleet users enrolled and applied by every member in %v", benchGrants, time.Since(start).Round(time.Millisecond))
	lone := w.startLone(benchOpens)

	b.ResetTimer()
	stopNoise := make(chan struct{})
	noise := timerLateness(stopNoise)
	natsAlone := w.natsAlone(stopNoise)
	var pool, alone []time.Duration
	for i := range benchOpens {
		pool = append(pool, w.knockToOpen(w.accts[i], poolVIP, uint16(2300+i)))
		alone = append(alone, w.knockToOpen(lone[i], loneAddr, uint16(2500+i)))
	}
	for u := benchOpens; u < benchGrants; u++ {
		el, payload := sealFor(b, w.accts[u], stepNow(w.accts[u]))
		w.sendPayload(w.addrs[0], el, payload)
		for i := 1; i < len(w.members); i++ {
			waitText(b, w.logs[i], fmt.Sprintf(`msg="pool grant" member=m1 user=u%d `, u), 3*time.Second)
		}
	}
	b.StopTimer()
	close(stopNoise)
	late, alone0 := <-noise, <-natsAlone

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p50, p90, p99 := func(l []time.Duration) float64 { return ms(quantile(l, 0.5)) },
		func(l []time.Duration) float64 { return ms(quantile(l, 0.9)) },
		func(l []time.Duration) float64 { return ms(quantile(l, 0.99)) }
	fmt.Printf("knock-to-open through the pool p50 %.2f ms p90 %.2f ms; lone server p50 %.2f ms p90 %.2f ms (%d knocks each, connects of 2 ms)\n",
		p50(pool), p90(pool), p50(alone), p90(alone), benchOpens)
	fan, transit, apply := w.lastFanout(benchGrants)
	fmt.Printf("fan-out p50 %.2f ms p99 %.2f ms (%d grants to the last of 3 members' nftables sets, nats-server in namespaces)\n",
		p50(fan), p99(fan), len(fan))
	fmt.Printf("fan-out stages p50/p99: transit %.2f/%.2f ms, apply %.2f/%.2f ms; meanwhile NATS alone %.2f/%.2f ms (%d messages), a 1 ms sleep late by %.2f/%.2f ms\n",
		p50(transit), p99(transit), p50(apply), p99(apply), p50(alone0), p99(alone0), len(alone0), p50(late), p99(late))
	b.ReportMetric(p50(pool), "pool-open-p50-ms")
	b.ReportMetric(p50(alone), "lone-open-p50-ms")
	b.ReportMetric(p50(fan), "fanout-p50-ms")
	b.ReportMetric(p99(fan), "fanout-p99-ms")
	b.ReportMetric(p99(transit), "transit-p99-ms")
	b.ReportMetric(p99(alone0), "nats-alone-p99-ms")
	b.ReportMetric(p99(late), "timer-late-p99-ms")
}

// quantile is the q-quantile of l (sorted in place).
func quantile(l []time.Duration, q float64) time.Duration {
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

// stepNow is acct's current step.
func stepNow(acct provision.Account) uint64 {
	return derive.Step(time.Now(), acct.Params.Period)
}

// knockToOpen sends acct's packet knock to dst and connects to port
// (2 ms each, one after another) until one opens: the time from the
// send to that connect's success. A knock that opens nothing in 3 s
// fails the benchmark.
func (w *poolWorld) knockToOpen(acct provision.Account, dst netip.Addr, port uint16) time.Duration {
	w.t.Helper()
	el, payload := sealFor(w.t, acct, stepNow(acct))
	start := time.Now()
	w.sendPayload(dst, el, payload)
	for time.Since(start) < 3*time.Second {
		if w.dialWithin(dst, port, 2*time.Millisecond) {
			return time.Since(start)
		}
	}
	w.t.Fatalf("%s's knock to %s opened nothing in 3 s", acct.User, dst)
	return 0
}

// timerLateness sleeps 1 ms at a time until stop is closed, then sends
// how late each sleep woke up.
func timerLateness(stop <-chan struct{}) <-chan []time.Duration {
	out := make(chan []time.Duration, 1)
	go func() {
		var late []time.Duration
		for {
			select {
			case <-stop:
				out <- late
				return
			default:
			}
			start := time.Now()
			time.Sleep(time.Millisecond)
			late = append(late, time.Since(start)-time.Millisecond)
		}
	}()
	return out
}

// natsAlone publishes the time every 5 ms on one NATS connection of
// the bench's process (in the load balancer's namespace) and receives it
// on another, through the pool's nats-server, until stop is closed; then
// it sends each message's time from publish to receipt.
func (w *poolWorld) natsAlone(stop <-chan struct{}) <-chan []time.Duration {
	w.t.Helper()
	var pub, sub *nats.Conn
	var err1, err2 error
	w.p.Do(w.t, w.lb, func() {
		url := fmt.Sprintf("nats://%s:4222", natsAddr(0))
		pub, err1 = nats.Connect(url)
		sub, err2 = nats.Connect(url)
	})
	if err := errors.Join(err1, err2); err != nil {
		w.t.Fatalf("NATS alone: %v", err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	if _, err := sub.Subscribe("bench.alone", func(m *nats.Msg) {
		var at time.Time
		if at.UnmarshalBinary(m.Data) == nil {
			mu.Lock()
			lat = append(lat, time.Since(at))
			mu.Unlock()
		}
	}); err != nil {
		w.t.Fatalf("NATS alone: %v", err)
	}
	if err := sub.Flush(); err != nil {
		w.t.Fatalf("NATS alone: %v", err)
	}
	out := make(chan []time.Duration, 1)
	go func() {
		defer sub.Close()
		defer pub.Close()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				_ = sub.Flush() // what was sent has arrived
				mu.Lock()
				out <- slices.Clone(lat)
				mu.Unlock()
				return
			case <-tick.C:
			}
			at, _ := time.Now().MarshalBinary()
			_ = pub.Publish("bench.alone", at)
			_ = pub.FlushTimeout(time.Second)
		}
	}()
	return out
}

var poolGrantRE = regexp.MustCompile(`msg="pool grant" member=\S+ user=(u\d+) .*fanout=(\S+) transit=(\S+)`)

// lastFanout is, per user, the later of the two pool grants the members
// logged (the grant reaching the last member's kernel set), and that
// grant's transit and apply (fanout - transit). Each of the n users must
// have exactly two.
func (w *poolWorld) lastFanout(n int) (fanout, transit, apply []time.Duration) {
	w.t.Helper()
	type grant struct{ fanout, transit time.Duration }
	last := map[string]grant{}
	count := map[string]int{}
	for _, l := range w.logs {
		for _, m := range poolGrantRE.FindAllStringSubmatch(l.String(), -1) {
			var g grant
			var err1, err2 error
			g.fanout, err1 = time.ParseDuration(m[2])
			g.transit, err2 = time.ParseDuration(m[3])
			if err := errors.Join(err1, err2); err != nil {
				w.t.Fatalf("pool grant of %s: %v", m[1], err)
			}
			count[m[1]]++
			if g.fanout >= last[m[1]].fanout {
				last[m[1]] = g
			}
		}
	}
	for u := range n {
		name := fmt.Sprintf("u%d", u)
		if c := count[name]; c != 2 {
			w.t.Fatalf("%s: %d pool grants logged, want 2 (the two other members)", name, c)
		}
		g := last[name]
		fanout, transit, apply = append(fanout, g.fanout), append(transit, g.transit), append(apply, g.fanout-g.transit)
	}
	return fanout, transit, apply
}

// startLone starts a lone server (no fleet) on the pool's LAN, at
// loneAddr, with n packet users lu0.. opening tcp/2500+i, and returns
// their accounts.
func (w *poolWorld) startLone(n int) []provision.Account {
	t := w.t
	t.Helper()
	ns := w.ns("lone")
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("netns %s: %v\n%s", ns, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	w.p.MustRun(t, ns, "ip", "link", "set", "lo", "up")
	w.link(ns, "veth0", w.lb, "plone")
	w.p.MustRun(t, w.lb, "ip", "link", "set", "plone", "master", "pool")
	w.p.MustRun(t, ns, "ip", "addr", "add", loneAddr.String()+"/24", "dev", "veth0")
	w.p.MustRun(t, ns, "ip", "route", "add", "default", "via", "198.18.3.254")
	dir := filepath.Join(w.dir, "lone")
	cfg := filepath.Join(dir, "config.yaml")
	w.p.MustRun(t, ns, bins.Server, "init", "-c", cfg, "--server-id", "lone", "--host", loneAddr.String(),
		"--state-file", filepath.Join(dir, "state", "state.json"))
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "firewall: auto", "firewall: nftables", 1)), 0o600)
	var accts []provision.Account
	for i := range n {
		out := w.p.MustRun(t, ns, bins.Server, "user", "add", fmt.Sprintf("lu%d", i), "-c", cfg, "--open", fmt.Sprintf("tcp/%d", 2500+i),
			"--knock", "packet", "--no-qr", "--no-reload")
		acct, err := provision.ParseURI(regexp.MustCompile(`otpauth://\S+`).FindString(out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		accts = append(accts, acct)
		go netnstest.AcceptAll(w.p.Listen(t, ns, "tcp", fmt.Sprintf("[::]:%d", 2500+i)))
	}
	_, log := w.startCmd(ns, bins.Server, "server", "-c", cfg)
	waitText(t, log, "msg=started", 20*time.Second)
	return accts
}
