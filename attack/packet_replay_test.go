//go:build linux

package attack

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// packetReplays sends captured packets again from the attacker with
// source src and counts, per kind of replay, the tries and those after
// which the server logged a grant for who.
type packetReplays struct {
	a             *arena
	r             *raw
	tried, opened map[string]int
}

func (p *packetReplays) replay(name string, pkts [][]byte, src netip.Addr, who string) {
	p.a.t.Helper()
	before, logged := p.a.counts(), p.a.grants(who)
	for _, b := range pkts {
		if err := p.r.packet(resendFrom(b, src)); err != nil {
			p.a.t.Fatal(err)
		}
	}
	// Judge once the server counted every packet replayed.
	after := p.a.seen(before, func() int { return len(pkts) })
	p.tried[name]++
	if after.grants > before.grants || p.a.grants(who) > logged {
		p.opened[name]++
	}
}

// report records a row per kind and fails the test if any opened.
func (p *packetReplays) report(prefix string) {
	t := p.a.t
	for name, n := range p.tried {
		figure(t, prefix+name, "tried %d, opened %d", n, p.opened[name])
		if p.opened[name] != 0 {
			t.Errorf("%s%s: opened %d of %d", prefix, name, p.opened[name], n)
		}
	}
}

// knockCaptured has the client knock as u (it must open) and returns
// the packets the tap saw it send.
func (a *arena) knockCaptured(tp *tap, u user, extra ...string) [][]byte {
	a.t.Helper()
	tp.grab(a.l.ClientV4) // what came before
	ok, out := a.send(a.l.Client, u.name, append([]string{"--retries", "0"}, extra...)...)
	if !ok {
		a.t.Fatalf("the client's own knock as %s failed:\n%s", u.name, out)
	}
	pkts := tp.grab(a.l.ClientV4)
	if len(pkts) == 0 {
		a.t.Fatalf("the tap captured none of %s's packets", u.name)
	}
	return pkts
}

// TestPacketReplay replays the client's captured packet knocks: from
// the attacker's address in the same step, spoofed as the client after
// its success, one step later, and after kill -9 and a restart. Nothing
// may open.
func TestPacketReplay(t *testing.T) {
	a := newPacketArena(t, 6)
	l := a.l
	tp := openTap(t, a)
	p := &packetReplays{a: a, r: openRaw(t, l, l.Attacker), tried: map[string]int{}, opened: map[string]int{}}
	client, attacker := l.ClientV4.String(), l.AttackerV4.String()
	for i := range scale(2, 20) {
		a.waitFreshStep(time.Second)
		pkts := a.knockCaptured(tp, a.users[i%5])
		p.replay("same step, attacker's address", pkts, l.AttackerV4, attacker)
		p.replay("spoofed as the client after its success", pkts, l.ClientV4, client)
		time.Sleep(a.cfg.Params.Period)
		p.replay("one step later, attacker's address", pkts, l.AttackerV4, attacker)
		p.replay("one step later, spoofed as the client", pkts, l.ClientV4, client)
		if i == 0 {
			// users[5], which the loop never knocks as: a user that knocked
			// in this step would find its service still open and send
			// nothing (send --wait tries the service first in a used step).
			a.waitFreshStep(time.Second)
			pkts := a.knockCaptured(tp, a.users[5])
			a.kill()
			a.start()
			p.replay("after kill -9 and restart, attacker's address", pkts, l.AttackerV4, attacker)
			p.replay("after kill -9 and restart, spoofed as the client", pkts, l.ClientV4, client)
		}
	}
	p.report("packet replay: ")
	if !strings.Contains(a.log.String(), "msg=replay src="+attacker) {
		t.Errorf("the replays were not logged as replays:\n%s", a.log)
	}
	a.control()
}

// TestPacketIntercepted: the client's packets never reach the server (a
// DROP rule in the server's namespace, ahead of the NFLOG rules) and
// the attacker, who captured them on the path, sends them from its own
// address. The claim names the client and asks for no source: nothing
// opens for the attacker. For a source-bound user the tag itself fails
// from another address, and the server counts a bad payload.
func TestPacketIntercepted(t *testing.T) {
	a := newPacketArena(t, 3)
	l := a.l
	tp := openTap(t, a)
	att := openRaw(t, l, l.Attacker)
	attacker := l.AttackerV4.String()
	rounds := scale(2, 50)
	boundSent := 0
	for _, tc := range []struct {
		mode string
		i    int
	}{{"default", 0}, {"bind_source", 2}} {
		u := a.users[tc.i]
		opened, refusedBefore := 0, strings.Count(a.log.String(), `msg="refused source" src=`+attacker)
		for range rounds {
			a.nextStep() // each round in a step u has not used
			k := a.element(u, a.step())
			drop := []string{"INPUT", "-s", l.ClientV4.String(), "-p", "udp", "--dport", itoa(k.Port), "-j", "DROP"}
			if k.Proto == derive.ICMP {
				drop = []string{"INPUT", "-s", l.ClientV4.String(), "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"}
			}
			l.MustRun(t, l.Server, append([]string{"iptables", "-I"}, drop...)...)
			tp.grab(l.ClientV4)
			// 1 s on its own port: the first packet and its 3 resends.
			ok, out := a.send(l.Client, u.name, "--retries", "0", fmt.Sprintf("--wait=tcp/%d,1s", 3000+tc.i))
			l.MustRun(t, l.Server, append([]string{"iptables", "-D"}, drop...)...)
			pkts := tp.grab(l.ClientV4)
			if ok {
				t.Fatalf("%s: the client opened although its packets were dropped:\n%s", tc.mode, out)
			}
			if _, _, n := sentPackets(out); n < 2 || len(pkts) != n {
				t.Fatalf("%s: the client sent %d packets, the tap saw %d; want the packet and its resends:\n%s", tc.mode, n, len(pkts), out)
			}
			if tc.mode == "bind_source" {
				boundSent += len(pkts)
			}
			before, logged := a.counts(), a.grants(attacker)
			for _, b := range pkts {
				if err := att.packet(resendFrom(b, l.AttackerV4)); err != nil {
					t.Fatal(err)
				}
			}
			// Judge once the server counted every packet replayed.
			after := a.seen(before, func() int { return len(pkts) })
			if after.grants > before.grants || a.grants(attacker) > logged {
				opened++
			}
		}
		refused := strings.Count(a.log.String(), `msg="refused source" src=`+attacker) - refusedBefore
		figure(t, "packet intercepted before the server, sent from the attacker's address, "+tc.mode+" mode",
			"tried %d, opened %d (server: %d refused source)", rounds, opened, refused)
		if opened != 0 {
			t.Errorf("%s: the intercepted packet opened for the attacker in %d of %d rounds", tc.mode, opened, rounds)
		}
		// The default user's packets verify (the tag is good), so the
		// server refuses them for their source: the attack reached the
		// check it is meant to hit. A bound user's fail the tag first.
		if tc.mode == "default" && refused < rounds {
			t.Errorf("default mode: %d refused-source lines for %d rounds:\n%s", refused, rounds, a.log)
		}
		if tc.mode == "bind_source" && refused != 0 {
			t.Errorf("bind_source: a packet from the attacker verified (%d refused-source lines)", refused)
		}
	}
	a.control()
	// The bound user's packets reached the matcher and failed the tag.
	if st := a.stopStats(); st["bad_payloads"] < boundSent {
		t.Errorf("bind_source: %d bad payloads counted for %d packets sent from the attacker", st["bad_payloads"], boundSent)
	}
}
