//go:build linux

package attack

import (
	"os/exec"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestScans runs nmap against the server from the attacker: full TCP SYN
// scans in random and in sequential order, and a UDP scan of the top
// ports. Nothing may open; the client's knock afterwards must.
func TestScans(t *testing.T) {
	require(t, "nmap")
	a := newArena(t, 3, nil)
	attacker := a.l.AttackerV4.String()
	scans := []struct {
		name string
		args []string
	}{
		{"nmap -sS -p- (random order)", []string{"-sS", "-p-"}},
		{"nmap -sS -p- -r (in order)", []string{"-sS", "-p-", "-r"}},
		{"nmap -sU --top-ports 1000", []string{"-sU", "--top-ports", "1000"}},
	}
	rounds := scale(1, 5)
	tcp, udp := a.sentCount("tcp"), a.sentCount("udp")
	for _, s := range scans {
		opened, counted := 0, 0
		for range rounds {
			before, logged, sent := a.counts(), a.grants(attacker), tcp()+udp()
			args := append([]string{"netns", "exec", a.l.Attacker, "nmap", "-n", "-Pn", "-T5", "--min-rate", "20000", "--max-retries", "0"}, s.args...)
			if out, err := exec.Command("ip", append(args, "198.18.1.1")...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, out)
			}
			// Judge once the server counted every probe in its range.
			after := a.seen(before, func() int { return tcp() + udp() - sent })
			counted += after.dropped - before.dropped
			if after.grants > before.grants || a.grants(attacker) > logged {
				opened++
			}
		}
		if counted == 0 {
			t.Errorf("%s: the server counted no probe in its knock range", s.name)
		}
		figure(t, "scan: "+s.name, "scans %d, opened %d", rounds, opened)
		if opened != 0 {
			t.Errorf("%s opened the door %d times", s.name, opened)
		}
	}
	a.control()
}

// TestSweeps sends every TCP and UDP port of the knock range from the
// attacker, in order, twice inside each step, over several steps.
// Nothing may open; the client's knock afterwards must.
func TestSweeps(t *testing.T) {
	a := newArena(t, 20, nil)
	r := openRaw(t, a.l, a.l.Attacker)
	steps, perStep := scale(2, 10), 2
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
	figure(t, "sweep: every TCP and UDP port of the range, in order, twice per step", "sweeps %d (%d packets, %.0f pps), opened %d", sweeps, packets, rate, opened)
	if opened != 0 {
		t.Errorf("sweeps opened the door %d times", opened)
	}
	if a.server.ProcessState != nil {
		t.Fatalf("the server died during the sweeps")
	}
	a.control()
}

// sweep sends every TCP and UDP port of the knock range, in order, from
// the attacker, and says, once the server counted every packet, whether
// anything opened: a grant counted by the server or logged for the
// attacker.
func (a *arena) sweep(r *raw) (sent int, opened bool) {
	a.t.Helper()
	p := a.cfg.Params
	before, logged := a.counts(), a.grants(a.l.AttackerV4.String())
	for _, proto := range []derive.Proto{derive.TCP, derive.UDP} {
		for port := int(p.PortMin); port <= int(p.PortMax); port++ {
			if err := r.send(a.l.AttackerV4, a.l.ServerV4, derive.Knock{Proto: proto, Port: uint16(port)}); err != nil {
				a.t.Fatal(err)
			}
			sent++
		}
	}
	after := a.seen(before, func() int { return sent })
	return sent, after.grants > before.grants || a.grants(a.l.AttackerV4.String()) > logged
}
