//go:build linux

package attack

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
)

// icmpAt says where u's knock of step goes over ICMP: a packet user's
// element (first), or a sequence user's knocks (first: the first
// knock; later: another one, the first not).
func (a *arena) icmpAt(u user, step uint64, packetUsers map[string]bool) (first, later bool) {
	if packetUsers[u.name] {
		return a.element(u, step).Proto == derive.ICMP, false
	}
	ks := a.seqOf(u, step, netip.Addr{})
	return ks[0].Proto == derive.ICMP, ks[0].Proto != derive.ICMP && slices.ContainsFunc(ks[1:], func(k derive.Knock) bool { return k.Proto == derive.ICMP })
}

// TestEchoFlood floods the knock range with echo requests from random
// sources of 198.18.0.0/15 and 2001:2::/48 (a quarter aimed at what the
// server armed), with icmp a knock protocol and either value of
// icmp_echo, while the client pings the server 1,000 times a second
// from its own addresses (plain pings: sequence numbers from 1) and
// knocks as users whose knock of the step goes over ICMP, sequence and
// packet users, over IPv4 and IPv6; first with icmp_echo: host, then
// with drop. The honest knocks must open (the
// plain pings between them are no strays: more than 8 echo requests in
// the range between two knocks would cancel a sequence), the server
// must live, no flooding source may be granted anything, and the plain
// pings are answered with icmp_echo: host and never with drop.
// seqUsers is TestEchoFlood's count of sequence users: each round four
// knock (two of them with ICMP as their first knock), none twice in
// two steps.
const seqUsers = 12

func TestEchoFlood(t *testing.T) {
	a := newArena(t, seqUsers, func(c string) string {
		return strings.Replace(c, "protocols: [tcp, udp]", "protocols: [tcp, udp, icmp]", 1)
	})
	a.addPacketUsers(8, 3100)
	if !strings.Contains(a.log.String(), "protocols=tcp,udp,icmp") {
		t.Fatalf("icmp is not a knock protocol of the server:\n%s", a.log)
	}
	run := &echoRuns{last: map[string]time.Time{}, honest: []netip.Addr{a.l.ClientV4, a.l.ClientV6}}
	echoFlood(t, a, "host", run)
	// The same users and lab, the server restarted with icmp_echo: drop.
	a.kill()
	data, err := os.ReadFile(a.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "\nicmp_echo: host\n", "\nicmp_echo: drop\n", 1)
	if text == string(data) {
		t.Fatal("the config has no icmp_echo: host line to change")
	}
	if err := os.WriteFile(a.cfg.Path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if a.cfg, err = config.Load(a.cfg.Path); err != nil {
		t.Fatal(err)
	}
	a.start()
	echoFlood(t, a, "drop", run)
}

// echoRuns is what TestEchoFlood's runs share: when each user last
// knocked (its grant lasts 3 s, its step is used), and the client's
// addresses so far (a grant outlives the server's kill -9).
type echoRuns struct {
	last   map[string]time.Time
	honest []netip.Addr
}

// echoKind is a kind of honest knock of TestEchoFlood.
type echoKind struct {
	name          string
	packet, first bool // a packet user; a sequence whose first knock goes over ICMP
	v6            bool
}

// measured says whether the kind is measured, not asserted: sequences
// whose first knock goes over ICMP from an address the server never
// saw. With iptables the kernel does not track the source of an echo
// request (no set matches its sequence number), the daemon sends none
// of a flood's sources to the kernel, and the sequence's later knocks
// then stop in the kernel's pre-filter (ADVERSARIAL.md). The client's
// own addresses are tracked from their first TCP or UDP first knock on.
// They run once, with icmp_echo: host: the limit does not depend on it.
func (k echoKind) measured() bool { return k.first && !k.packet }

var echoKinds = []echoKind{{"sequence, IPv4", false, false, false}, {"sequence, IPv6", false, false, true},
	{"packet, IPv4", true, true, false}, {"packet, IPv6", true, true, true},
	{"sequence, first knock over ICMP, a new IPv4 address", false, true, false},
	{"sequence, first knock over ICMP, a new IPv6 address", false, true, true}}

// pick returns the first user free (none of its knocks in the last
// 3.5 s) whose knock of the step goes over ICMP as k needs, waiting for
// the next step when there is none (three steps at most); it resets
// targets to each step's ICMP elements.
func (r *echoRuns) pick(a *arena, k echoKind, targets *aims) (user, bool) {
	pu := a.packetUsers()
	for wait := range 3 {
		if wait > 0 {
			a.nextStep()
		}
		a.waitFreshStep(500 * time.Millisecond)
		targets.set(icmpElements(a))
		step := a.step()
		idx := slices.IndexFunc(a.users, func(u user) bool {
			bound := u.name == fmt.Sprintf("u%d", seqUsers-1) || u.name == "p7"
			if pu[u.name] != k.packet || bound || time.Since(r.last[u.name]) < 3500*time.Millisecond {
				return false
			}
			first, later := a.icmpAt(u, step, pu)
			return first && k.first || later && !k.first
		})
		if idx >= 0 {
			r.last[a.users[idx].name] = time.Now()
			return a.users[idx], true
		}
	}
	return user{}, false
}

// knock has the client knock as u, from a new address of its own for a
// measured kind, and says whether the server granted it.
func (r *echoRuns) knock(a *arena, k echoKind, u user) bool {
	if !k.measured() {
		return a.knockAs(u, userPort(u), k.v6)
	}
	n := len(r.honest)
	fresh := netip.MustParseAddr(fmt.Sprintf("198.18.2.%d", 150+n))
	if k.v6 {
		fresh = netip.MustParseAddr(fmt.Sprintf("2001:2:2::2%03d", n))
	}
	r.honest = append(r.honest, fresh)
	ok := false
	a.fromNewAddress(fresh, func() { ok = a.knockFrom(u, userPort(u), fresh) })
	return ok
}

// icmpElements is what the server armed around now that goes over ICMP.
func icmpElements(a *arena) []derive.Knock {
	return slices.DeleteFunc(a.armed(a.packetUsers()), func(k derive.Knock) bool { return k.Proto != derive.ICMP })
}

// startEchoFlood floods the server with echo requests to the knock
// range from random sources, alternately over IPv4 and IPv6, a quarter
// of them aimed at targets; stop ends it and returns the count sent.
func startEchoFlood(t *testing.T, a *arena, rate int, targets *aims) (stop func() int) {
	l, params := a.l, a.cfg.Params
	f := openFlood(t, l)
	quit, done := make(chan struct{}), make(chan int)
	go func() {
		rng := rand.New(rand.NewPCG(7, 7))
		icmp := []derive.Proto{derive.ICMP}
		i := 0
		done <- sendFlood(f, rate, quit, func() []byte {
			i++
			dst := l.ServerV4
			if i%2 == 0 {
				dst = l.ServerV6
			}
			return floodPacket(rng, i%2 == 0, dst, params, targets, 0.25, icmp)
		})
	}()
	return func() int { close(quit); return <-done }
}

// echoFlood is one run of TestEchoFlood, the server's icmp_echo being
// echo: each round begins a step, and each kind knocks once.
func echoFlood(t *testing.T, a *arena, echo string, run *echoRuns) {
	rate, knocks := scale(20000, 60000), scale(3, 20)
	targets := &aims{}
	targets.set(icmpElements(a))
	m0 := a.metrics()
	stopFlood := startEchoFlood(t, a, rate, targets)
	pings := startPinger(t, a, 1000)
	start := time.Now()
	ok, tried := make([]int, len(echoKinds)), make([]int, len(echoKinds))
	var pk peaks
	for range knocks {
		a.nextStep()
		for i, k := range echoKinds {
			if k.measured() && echo != "host" {
				continue
			}
			u, found := run.pick(a, k, targets)
			if !found {
				t.Logf("no %s user free whose knock goes over ICMP in three steps", k.name)
				continue
			}
			tried[i]++
			if run.knock(a, k, u) {
				ok[i]++
			}
		}
		a.sample(&pk, run.honest...)
	}
	sentPings, answered := pings.end()
	sent := stopFlood()
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	a.sample(&pk, run.honest...)
	read := packetsRead(a.metrics()) - packetsRead(m0)
	foreign := append(pk.foreign, a.foreignGrantLines(run.honest...)...)
	var opened []string
	for i, k := range echoKinds {
		if !k.measured() || echo == "host" {
			opened = append(opened, fmt.Sprintf("%s %d/%d", k.name, ok[i], tried[i]))
		}
	}
	figure(t, "echo flood, random sources of 198.18.0.0/15 and 2001:2::/48, to the range (a quarter to armed ICMP elements), icmp_echo: "+echo+", 20 users, plain pings from the client at 1,000 a second",
		"%.0f kpps for %.0f s (%d packets): server alive, peak RSS %d MB, daemon read %d; honest knocks over ICMP: %s; plain pings answered %d of %d; grants to flooding sources %d",
		float64(sent)/elapsed.Seconds()/1000, elapsed.Seconds(), sent, pk.rssKB/1024, read,
		strings.Join(opened, ", "), answered, sentPings, len(foreign))
	for i, k := range echoKinds {
		if k.measured() && echo != "host" {
			continue
		}
		if tried[i] < knocks {
			t.Errorf("%s: %d of %d knocks found a user whose knock goes over ICMP", k.name, tried[i], knocks)
		}
		if least := tried[i] - (tried[i]+9)/10; !k.measured() && ok[i] < least {
			t.Errorf("%s: %d of %d honest knocks over ICMP opened, want at least %d", k.name, ok[i], tried[i], least)
		}
	}
	switch {
	case echo == "host" && answered < sentPings/2:
		t.Errorf("icmp_echo: host: %d of %d plain pings answered, want most", answered, sentPings)
	case echo == "drop" && answered != 0:
		t.Errorf("icmp_echo: drop: %d of %d plain pings answered, want none", answered, sentPings)
	}
	checkFlood(t, pk, foreign)
	// With iptables every echo request in the range reaches the daemon
	// (no set matches a sequence number).
	if read < sent/2 {
		t.Errorf("the flood did not reach the daemon: %d sent, %d read", sent, read)
	}
}
