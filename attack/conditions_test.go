//go:build linux

package attack

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// open reports whether tcp/2222 answers from namespace ns.
func (a *arena) open(ns string) bool {
	var err error
	a.l.Do(a.t, ns, func() {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", "198.18.1.1:2222", 300*time.Millisecond); err == nil {
			c.Close()
		}
	})
	return err == nil
}

// TestNAT: two clients behind one NAT address knock at once, as two
// users: both open.
func TestNAT(t *testing.T) {
	a := newArena(t, 4, nil)
	rounds := scale(3, 20)
	ok := 0
	for range rounds {
		a.nextStep()
		var wg sync.WaitGroup
		for i, ns := range []string{a.l.NatA, a.l.NatB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.send(ns, a.users[i].name, "--retries", "0", "--wait=tcp/2222,1s")
			}()
		}
		wg.Wait()
		step := a.step()
		for _, u := range []string{"u0", "u1"} {
			if strings.Contains(a.log.String(), fmt.Sprintf("msg=grant src=198.18.2.100 user=%s step=%d", u, step)) {
				ok++
			}
		}
	}
	figure(t, "NAT: two clients behind one address knock at once", "%d of %d knocks opened", ok, 2*rounds)
	if ok != 2*rounds {
		t.Errorf("behind NAT: %d of %d opened", ok, 2*rounds)
	}
}

// TestExpiryAndDuplicates: many grants for one address leave one set
// entry; after kill -9 the entry still expires on time.
func TestExpiryAndDuplicates(t *testing.T) {
	a := newArena(t, 12, nil)
	n := a.knockRounds(a.l.Client, a.l.ClientV4.String(), scale(11, 100), "--retries", "0")
	granted := time.Now()
	list := a.l.MustRun(t, a.l.Server, "ipset", "list", "otpknock4")
	entries := strings.Count(list, "198.18.2.2,tcp:2222")
	a.server.Process.Signal(syscall.SIGKILL)
	a.server.Wait()
	var closedAfter time.Duration
	for time.Since(granted) < 8*time.Second {
		if !a.open(a.l.Client) {
			closedAfter = time.Since(granted)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	timeout := a.cfg.OpenTimeout
	figure(t, "duplicates: repeated grants for one address", "%d grants, %d set entries", n, entries)
	figure(t, "expiry after kill -9", "open_timeout %s, closed after %s (error %s)", timeout, closedAfter.Round(100*time.Millisecond), (closedAfter - timeout).Round(100*time.Millisecond))
	if entries != 1 {
		t.Errorf("%d set entries for one address and port:\n%s", entries, list)
	}
	if closedAfter == 0 || (closedAfter-timeout).Abs() > time.Second {
		t.Errorf("closed after %v, want %v +- 1s", closedAfter, timeout)
	}
}

// netemWorks reports whether the kernel has sch_netem.
func (a *arena) netemWorks() bool {
	err := a.l.Cmd(a.l.Router, "tc", "qdisc", "replace", "dev", "toserver", "root", "netem", "delay", "1ms").Run()
	if err == nil {
		a.l.Cmd(a.l.Router, "tc", "qdisc", "del", "dev", "toserver", "root").Run()
	}
	return err == nil
}

// TestNetworkConditions: loss and duplication toward the server (iptables
// statistic DROP and TEE on the router), and delay, jitter and
// reordering with tc netem where the kernel has it; the client knocks
// with 2 retries. The figure compares the success rate with
// 1-(1-(1-p)^4)^3 for independent loss.
func TestNetworkConditions(t *testing.T) {
	a := newArena(t, 20, nil)
	knocks := scale(6, 100)
	toServer := []string{"-s", "198.18.2.2", "-d", "198.18.1.1", "-m", "statistic", "--mode", "random", "--probability"}
	netem := a.netemWorks()
	for _, c := range []struct {
		name  string
		p     float64
		rule  []string // iptables rule on the router
		netem []string // tc netem arguments
	}{
		{"no loss", 0, nil, nil},
		{"1% loss", 0.01, append(append([]string{"FORWARD"}, toServer...), "0.01", "-j", "DROP"), nil},
		{"5% loss", 0.05, append(append([]string{"FORWARD"}, toServer...), "0.05", "-j", "DROP"), nil},
		{"10% loss", 0.10, append(append([]string{"FORWARD"}, toServer...), "0.10", "-j", "DROP"), nil},
		{"5% duplication", 0, append(append([]string{"PREROUTING", "-t", "mangle"}, toServer...), "0.05", "-j", "TEE", "--gateway", "198.18.1.1"), nil},
		{"delay 20ms +-10ms", 0, nil, []string{"delay", "20ms", "10ms"}},
		{"25% reordering", 0, nil, []string{"delay", "10ms", "reorder", "25%", "50%"}},
	} {
		if c.netem != nil && !netem {
			figure(t, "network: "+c.name, "not measured: this kernel has no sch_netem (tc netem)")
			continue
		}
		if c.rule != nil {
			a.l.MustRun(t, a.l.Router, append([]string{"iptables", "-I"}, c.rule...)...)
		}
		if c.netem != nil {
			a.l.MustRun(t, a.l.Router, append([]string{"tc", "qdisc", "replace", "dev", "toserver", "root", "netem"}, c.netem...)...)
		}
		a.nextStep()
		ok := a.knockRounds(a.l.Client, a.l.ClientV4.String(), knocks, "--retries", "2")
		if c.rule != nil {
			a.l.MustRun(t, a.l.Router, append([]string{"iptables", "-D"}, c.rule...)...)
		}
		if c.netem != nil {
			a.l.MustRun(t, a.l.Router, "tc", "qdisc", "del", "dev", "toserver", "root")
		}
		want := 1 - math.Pow(1-math.Pow(1-c.p, 4), 3)
		figure(t, "network: "+c.name, "success %d/%d (%.0f%%; expected %.1f%% for independent loss)", ok, knocks, 100*float64(ok)/float64(knocks), 100*want)
		if c.p <= 0.05 && ok < knocks*8/10 {
			t.Errorf("%s: only %d of %d opened", c.name, ok, knocks)
		}
	}
}

// TestClockSkew knocks with client clocks off by whole and half steps:
// acceptance must equal the window (skew 1: one step either side).
func TestClockSkew(t *testing.T) {
	a := newArena(t, 20, nil)
	period := a.cfg.Params.Period
	var offsets []time.Duration
	for k := -10; k <= 10; k++ { // +-5 steps, as +-150 s with 30 s steps
		offsets = append(offsets, time.Duration(k)*period/2)
	}
	agree, total := 0, 0
	var rows []string
	for i, off := range offsets {
		if i%(len(a.users)-1) == 0 {
			a.nextStep()
		}
		a.waitFreshStep(time.Second)
		u := a.users[i%(len(a.users)-1)]
		serverStep := a.step()
		_, out := a.send(a.l.Client, u.name, "--retries", "0", "--time-offset", off.String(), "--wait=tcp/2222,300ms")
		_, clientStep := sent(out)
		accepted := strings.Contains(a.log.String(), fmt.Sprintf("user=%s step=%d", u.name, clientStep)) &&
			strings.Contains(a.log.String(), "msg=grant src=198.18.2.2 user="+u.name+" ")
		d := int64(clientStep) - int64(serverStep)
		expected := d >= -int64(a.cfg.Skew) && d <= int64(a.cfg.Skew)
		total++
		if accepted == expected {
			agree++
		}
		rows = append(rows, fmt.Sprintf("%+.0fs:%v", off.Seconds(), map[bool]string{true: "open", false: "closed"}[accepted]))
	}
	figure(t, "clock skew (step 2 s, skew 1), offsets in half steps from -5 to +5 steps", "acceptance equals the window for %d/%d offsets: %s", agree, total, strings.Join(rows, " "))
	if agree != total {
		t.Errorf("acceptance differs from the window for %d offsets", total-agree)
	}
}

// TestStepBoundaries starts sequences 40 ms before a step boundary, so
// they end in the next step: the step is locked at the first knock.
func TestStepBoundaries(t *testing.T) {
	a := newArena(t, 20, nil)
	r := openRaw(t, a.l, a.l.Client)
	rounds := scale(3, 20)
	ok := 0
	for i := range rounds {
		left := derive.Left(time.Now(), a.cfg.Params.Period)
		time.Sleep(left - 40*time.Millisecond)
		u := a.users[i%(len(a.users)-1)]
		before := a.grants(a.l.ClientV4.String())
		ks := a.seqOf(u, a.step(), netip.Addr{})
		for _, k := range ks {
			r.send(a.l.ClientV4, a.l.ServerV4, k)
			time.Sleep(30 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		if a.grants(a.l.ClientV4.String()) > before {
			ok++
		}
	}
	figure(t, "step boundary: sequences started 40 ms before it", "%d of %d opened", ok, rounds)
	if ok != rounds {
		t.Errorf("at step boundaries %d of %d opened", ok, rounds)
	}
}
