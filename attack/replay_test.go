//go:build linux

package attack

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

func knockAll(t *testing.T, r *raw, src, dst netip.Addr, ks []derive.Knock) {
	t.Helper()
	for _, k := range ks {
		if err := r.send(src, dst, k); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReplay replays the client's captured knocks: from the attacker's
// address in the same step, spoofed as the client after its success,
// one step later, and after kill -9 and a restart. Nothing may open.
func TestReplay(t *testing.T) {
	a := newArena(t, 6, nil)
	l := a.l
	att := openRaw(t, l, l.Attacker)
	client, attacker := l.ClientV4.String(), l.AttackerV4.String()
	tried := map[string]int{}
	opened := map[string]int{}
	replays := func(name string, src netip.Addr, ks []derive.Knock, who string) {
		t.Helper()
		before := a.grants(who)
		knockAll(t, att, src, l.ServerV4, ks)
		time.Sleep(100 * time.Millisecond)
		tried[name]++
		if a.grants(who) > before {
			opened[name]++
		}
	}
	rounds := scale(3, 20)
	for i := range rounds {
		a.waitFreshStep(time.Second)
		ok, out := a.send(l.Client, a.users[i%5].name, "--retries", "0")
		if !ok {
			t.Fatalf("the client's own knock failed:\n%s", out)
		}
		ks, _ := sent(out)
		replays("same step, attacker's address", l.AttackerV4, ks, attacker)
		replays("spoofed as the client after its success", l.ClientV4, ks, client)
		time.Sleep(a.cfg.Params.Period)
		replays("one step later, attacker's address", l.AttackerV4, ks, attacker)
		replays("one step later, spoofed as the client", l.ClientV4, ks, client)
		if i == 0 {
			a.waitFreshStep(time.Second)
			ok, out := a.send(l.Client, a.users[1].name, "--retries", "0")
			if !ok {
				t.Fatalf("client knock before kill -9: %s", out)
			}
			ks, _ := sent(out)
			a.kill()
			a.start()
			replays("after kill -9 and restart, attacker's address", l.AttackerV4, ks, attacker)
			replays("after kill -9 and restart, spoofed as the client", l.ClientV4, ks, client)
		}
	}
	total, open := 0, 0
	for name, n := range tried {
		figure(t, "replay: "+name, "tried %d, opened %d", n, opened[name])
		total += n
		open += opened[name]
	}
	if open != 0 {
		t.Errorf("replays opened the door %d times out of %d", open, total)
	}
	if !strings.Contains(a.log.String(), "msg=replay src="+attacker) {
		t.Errorf("replays were not logged:\n%s", a.log)
	}
}

// TestOnPathRace: the router drops the client's last knock, and the
// attacker, who saw the whole sequence, completes it from its own
// address. In the default mode this opens the door for the attacker (a
// documented limit); for a source-bound user it must not.
func TestOnPathRace(t *testing.T) {
	a := newArena(t, 3, nil)
	l := a.l
	att := openRaw(t, l, l.Attacker)
	rounds := scale(2, 10)
	for _, tc := range []struct {
		mode string
		u    user
	}{{"default", a.users[0]}, {"bind_source", a.users[2]}} {
		opened := 0
		for range rounds {
			a.nextStep() // each round in a step nobody used
			step := a.step()
			ks := a.seqOf(tc.u, step, map[bool]netip.Addr{true: l.ClientV4}[tc.mode == "bind_source"])
			last := ks[len(ks)-1]
			drop := []string{"iptables", "-I", "FORWARD", "-s", l.ClientV4.String(), "-p", last.Proto.String(), "--dport", itoa(last.Port), "-j", "DROP"}
			l.MustRun(t, l.Router, drop...)
			if ok, out := a.send(l.Client, tc.u.name, "--retries", "0", "--wait=tcp/2222,300ms"); ok {
				t.Fatalf("%s: the client opened although its last knock was dropped:\n%s", tc.mode, out)
			}
			l.MustRun(t, l.Router, append([]string{"iptables", "-D"}, drop[2:]...)...)
			before := a.grants(l.AttackerV4.String())
			knockAll(t, att, l.AttackerV4, l.ServerV4, ks)
			time.Sleep(100 * time.Millisecond)
			if a.grants(l.AttackerV4.String()) > before {
				opened++
			}
		}
		figure(t, "on-path race, "+tc.mode+" mode", "tried %d, opened %d", rounds, opened)
		if tc.mode == "bind_source" && opened != 0 {
			t.Errorf("bind_source: the attacker opened %d of %d races", opened, rounds)
		}
		if tc.mode == "default" && opened != rounds {
			t.Errorf("default mode: %d of %d races opened; the race should succeed there (documented limit)", opened, rounds)
		}
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
