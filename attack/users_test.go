//go:build linux

package attack

import (
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
)

// newCrowd is newArena's three users (u0 and u1 unbound, u2 source-
// bound, each with its own port) and n-3 more opening tcp/2222,
// c<i> source-bound when bound(i) says so. knocks is 5, so that 1,000
// sequence users keep 48 effective bits against a blind sweep. The
// server restarts on the grown config and must report every user. The
// counts are full size in CI too: users cost the test no packets.
func newCrowd(t *testing.T, n int, bound func(i int) bool) *arena {
	a := newArena(t, 3, func(s string) string { return strings.Replace(s, "knocks: 4", "knocks: 5", 1) })
	a.kill()
	var b strings.Builder
	for i := range n - 3 {
		name := fmt.Sprintf("c%d", i)
		fmt.Fprintf(&b, "  - {name: %s, open: [tcp/2222], bind_source: %t}\n", name, bound(i))
		if err := a.cfg.WriteSecret(name, []byte(rand.Text())); err != nil {
			t.Fatal(err)
		}
	}
	// users is the last key of the file, in block style (config.AddUser).
	f, err := os.OpenFile(a.cfg.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(b.String())
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg, err = config.Load(a.cfg.Path); err != nil {
		t.Fatal(err)
	}
	a.start()
	started := regexp.MustCompile(`msg=started .*`).FindString(a.log.String())
	if !strings.Contains(started, fmt.Sprintf(" users=%d ", n)) {
		t.Fatalf("the server did not start with %d users: %s", n, started)
	}
	t.Logf("server: %s", started)
	return a
}

// boundCount counts the source-bound users of a's config.
func (a *arena) boundCount() int {
	n := 0
	for _, u := range a.cfg.Users {
		if u.BindSource {
			n++
		}
	}
	return n
}

// effectiveBits is the effective_bits of the server's start line.
func (a *arena) effectiveBits() string {
	return regexp.MustCompile(`effective_bits=(\S+)`).FindStringSubmatch(a.log.String() + " effective_bits=?")[1]
}

// stop stops the server with SIGTERM and returns its counters line.
func (a *arena) stop() string {
	a.t.Helper()
	a.server.Process.Signal(syscall.SIGTERM)
	a.server.Wait()
	line := regexp.MustCompile(`msg=stopped .*`).FindString(a.log.String())
	if line == "" {
		a.t.Fatalf("the server did not stop cleanly:\n%s", a.log)
	}
	return line
}

// counter reads one counter of the stopped line.
func counter(line, name string) int {
	m := regexp.MustCompile(` ` + name + `=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestSweepsManyUsers is TestSweeps against 1,000 users, every other
// one source-bound: every TCP and UDP port of the range, in order, twice
// inside each step. A sweep hits the first knocks of all of them (the
// matcher indexes a bound user's first knock too), yet nothing may open;
// the client's knock afterwards must.
func TestSweepsManyUsers(t *testing.T) {
	a := newCrowd(t, 1000, func(i int) bool { return i%2 == 0 })
	r := openRaw(t, a.l, a.l.Attacker)
	p := a.cfg.Params
	steps, perStep := scale(1, 10), 2
	sweeps, opened, packets := 0, 0, 0
	start := time.Now()
	for range steps {
		a.nextStep()
		for range perStep {
			sent, open := a.sweep(r)
			packets += sent
			sweeps++
			if open {
				opened++
			}
		}
	}
	rate := float64(packets) / time.Since(start).Seconds()
	if a.server.ProcessState != nil {
		t.Fatalf("the server died during the sweeps")
	}
	a.control()
	stop := a.stop()
	figure(t, fmt.Sprintf("sweep, %d users (%d source-bound, knocks %d, effective bits %s): every TCP and UDP port of the range, in order, twice per step",
		len(a.cfg.Users), a.boundCount(), p.Knocks, a.effectiveBits()),
		"sweeps %d (%d packets, %.0f pps), opened %d; sequences started %d", sweeps, packets, rate, opened, counter(stop, "started"))
	if opened != 0 {
		t.Errorf("sweeps opened the door %d times", opened)
	}
	// Each sweep crosses every user's first knock for each step of the
	// window (three with skew 1): fewer than one start per user and sweep
	// would mean the sweep missed the index.
	if least := sweeps * len(a.cfg.Users); counter(stop, "started") < least {
		t.Errorf("the sweeps started %d sequences, want at least %d (one per user's first knock and sweep)", counter(stop, "started"), least)
	}
}

// knockBound knocks n times as the source-bound u2 from the client, one
// knock per step (a sequence opens once per step), and returns how many
// the server granted.
func (a *arena) knockBound(n int) int {
	u := a.users[2]
	client := a.l.ClientV4.String()
	mine := "msg=grant src=" + client + " user=" + u.name + " "
	ok := 0
	for range n {
		a.nextStep()
		before := strings.Count(a.log.String(), mine)
		opened, out := a.send(a.l.Client, u.name, "--wait=tcp/3002,300ms", "--retries", "1")
		for wait := 0; opened && wait < 50 && strings.Count(a.log.String(), mine) == before; wait++ {
			time.Sleep(10 * time.Millisecond)
		}
		if strings.Count(a.log.String(), mine) > before {
			ok++
		} else {
			a.t.Logf("%s was not granted; the client said:\n%s", u.name, out)
		}
	}
	return ok
}

// floodSteps runs hping3 --flood --rand-source from the attacker, one
// run per step aimed by aim as the step begins, until stop is closed; it
// returns the packets hping3 reported sent.
func (a *arena) floodSteps(aim func() []string, stop <-chan struct{}) int {
	sent := 0
	for {
		select {
		case <-stop:
			return sent
		default:
		}
		left := derive.Left(time.Now(), a.cfg.Params.Period)
		if left < 50*time.Millisecond { // the last run ended just short of the step
			time.Sleep(left + 10*time.Millisecond)
			left = derive.Left(time.Now(), a.cfg.Params.Period)
		}
		args := append([]string{"timeout", "-s", "INT", fmt.Sprintf("%.3f", left.Seconds()), "hping3", "--flood", "--rand-source", "-q"}, aim()...)
		out, _ := a.l.Cmd(a.l.Attacker, append(args, "198.18.1.1")...).CombinedOutput()
		if m := regexp.MustCompile(`(\d+) packets transmitted`).FindSubmatch(out); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			sent += n
		}
	}
}

// TestFloodBoundUsers floods 1,000 source-bound users (u2 and c0 to
// c998; u0 and u1 are unbound) with SYNs from random sources, to the
// knock range and to the first knock of one bound user, while the source-bound u2 knocks from the client:
// the server must stay up within its memory bound and u2's knocks must
// open. Random sources cannot follow a bound user's knock 2.
func TestFloodBoundUsers(t *testing.T) {
	require(t, "hping3")
	a := newCrowd(t, 1002, func(int) bool { return true })
	knocks := scale(2, 30)
	c0, _ := a.cfg.User("c0")
	secret, err := a.cfg.ReadSecret(c0.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"range", "first knock of a source-bound user"} {
		aim := func() []string { return []string{"-S", "-p", "++20000"} }
		if target != "range" {
			// c0's first knock does not depend on the source (spec 6.1):
			// each step's is aimed at as the step begins.
			aim = func() []string {
				first := a.seqOf(user{c0.Name, secret}, a.step(), a.l.AttackerV4)[0]
				if first.Proto == derive.TCP {
					return []string{"-S", "-p", strconv.Itoa(int(first.Port))}
				}
				return []string{"--udp", "-p", strconv.Itoa(int(first.Port))}
			}
		}
		_, cpu0 := procStat(t, a.server.Process.Pid)
		stop, sent := make(chan struct{}), make(chan int)
		start := time.Now()
		go func() { sent <- a.floodSteps(aim, stop) }()
		time.Sleep(500 * time.Millisecond)
		ok := a.knockBound(knocks)
		close(stop)
		sentN := <-sent
		elapsed := time.Since(start)
		hwm, cpu1 := procStat(t, a.server.Process.Pid)
		figure(t, fmt.Sprintf("flood, random sources, %d source-bound users of %d (knocks %d, effective bits %s), to the %s", a.boundCount(), len(a.cfg.Users), a.cfg.Params.Knocks, a.effectiveBits(), target),
			"%.0f kpps for %.0fs: server alive, peak RSS %d MB, CPU %.0f%%, legitimate success (source-bound u2) %d/%d",
			float64(sentN)/elapsed.Seconds()/1000, elapsed.Seconds(), hwm/1024, 100*(cpu1-cpu0).Seconds()/elapsed.Seconds(), ok, knocks)
		if sentN == 0 {
			t.Errorf("flood to the %s: hping3 reported no packets sent", target)
		}
		if hwm > 256*1024 {
			t.Errorf("peak RSS %d MB under flood", hwm/1024)
		}
		// As TestFlood: one failure in ten allowed for a shared machine.
		if least := knocks - (knocks+9)/10; ok < least {
			t.Errorf("flood to the %s: legitimate success %d/%d, want at least %d", target, ok, knocks, least)
		}
	}
	// Random sources open nothing: every grant is the client's.
	if all, mine := strings.Count(a.log.String(), "msg=grant "), a.grants(a.l.ClientV4.String()); all != mine {
		t.Errorf("%d grants went to other sources than the client's", all-mine)
	}
	stop := a.stop()
	figure(t, fmt.Sprintf("flood, %d source-bound users: server counters over both floods", a.boundCount()), "lost %d, started %d, evicted %d, completed %d",
		counter(stop, "lost"), counter(stop, "started"), counter(stop, "evicted"), counter(stop, "completed"))
	if counter(stop, "lost") != 0 {
		t.Errorf("NFLOG lost %d messages under the floods", counter(stop, "lost"))
	}
}
