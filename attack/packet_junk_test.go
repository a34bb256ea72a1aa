//go:build linux

package attack

import (
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// TestPacketJunk attacks the packet users from the attacker's address:
// a UDP datagram with a random payload to every port of the range and
// an ICMP echo request with random data for every sequence number of
// it, then nmap scans (-sU over the range, -sS -p-). Nothing may open;
// the random payloads that land on elements must be counted as bad
// payloads (they reached the tag check), and the client's knock
// afterwards must open.
func TestPacketJunk(t *testing.T) {
	require(t, "nmap")
	a := newPacketArena(t, 10)
	r := openRaw(t, a.l, a.l.Attacker)
	p := a.cfg.Params
	attacker := a.l.AttackerV4.String()
	rng := rand.New(rand.NewPCG(3, 3))
	buf := make([]byte, derive.MaxPayload)
	sweeps := scale(1, 10)
	opened, packets := 0, 0
	start := time.Now()
	for range sweeps {
		a.nextStep()
		before, logged, sent := a.counts(), a.grants(attacker), 0
		for _, proto := range []derive.Proto{derive.UDP, derive.ICMP} {
			for port := int(p.PortMin); port <= int(p.PortMax); port++ {
				payload := buf[:derive.MinPayload+rng.IntN(derive.MaxPayload-derive.MinPayload+1)]
				for i := range payload {
					payload[i] = byte(rng.Uint32())
				}
				if err := r.packet(payloadKnock(a.l.AttackerV4, a.l.ServerV4, derive.Knock{Proto: proto, Port: uint16(port)}, payload)); err != nil {
					t.Fatal(err)
				}
				sent++
			}
		}
		packets += sent
		// Judge once the server counted every packet of the sweep.
		after := a.seen(before, func() int { return sent })
		if after.grants > before.grants || a.grants(attacker) > logged {
			opened++
		}
	}
	rate := float64(packets) / time.Since(start).Seconds()
	figure(t, "packet mode: random payloads to every UDP port and echo sequence number of the range", "sweeps %d (%d packets, %.0f pps), opened %d", sweeps, packets, rate, opened)
	if opened != 0 {
		t.Errorf("random payloads opened the door %d times", opened)
	}
	rng2 := strconv.Itoa(int(p.PortMin)) + "-" + strconv.Itoa(int(p.PortMax))
	tcp, udp := a.sentCount("tcp"), a.sentCount("udp")
	for _, s := range []struct {
		name, args string
		scans      int
	}{{"nmap -sU -p " + rng2, "-sU -p " + rng2, scale(1, 5)}, {"nmap -sS -p-", "-sS -p-", scale(0, 5)}} { // TestScans runs -sS -p- in CI
		scans, opened := s.scans, 0
		for range scans {
			before, logged, sent := a.counts(), a.grants(attacker), tcp()+udp()
			args := append([]string{"netns", "exec", a.l.Attacker, "nmap", "-n", "-Pn", "-T5", "--min-rate", "20000", "--max-retries", "0"}, append(strings.Fields(s.args), "198.18.1.1")...)
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", s.name, err, out)
			}
			// Judge once the server counted every probe in its range.
			after := a.seen(before, func() int { return tcp() + udp() - sent })
			if after.grants > before.grants || a.grants(attacker) > logged {
				opened++
			}
		}
		figure(t, "packet mode: scan: "+s.name, "scans %d, opened %d", scans, opened)
		if opened != 0 {
			t.Errorf("%s opened the door %d times", s.name, opened)
		}
	}
	a.control()
	// Each sweep hits every user's elements of the window (three steps)
	// with a payload of a valid size: at least one bad tag per user.
	st := a.stopStats()
	figure(t, "packet mode: bad payloads counted over the sweeps and scans", "%d (at least %d expected)", st["bad_payloads"], sweeps*len(a.users))
	if st["bad_payloads"] < sweeps*len(a.users) {
		t.Errorf("%d bad payloads counted over %d sweeps of %d users' elements: the payloads did not reach the tag check", st["bad_payloads"], sweeps, len(a.users))
	}
}

// TestPacketMalformedPayloads sends, from the attacker to the current
// elements of a packet user, payloads that are too short, too long,
// longer than the NFLOG copy range, and the user's genuine payload cut
// by a byte, with a bit flipped, with bytes appended and sealed for
// another step; then malformed IPv4 packets. The server must stay up,
// count each payload (bad payload or cut capture), open nothing for the
// attacker, and open for the client's knock afterwards.
func TestPacketMalformedPayloads(t *testing.T) {
	a := newPacketArena(t, 3)
	l := a.l
	r := openRaw(t, l, l.Attacker)
	u := a.users[0]
	claim := derive.Claim{Addrs: []netip.Addr{l.ClientV4}}
	rounds := scale(5, 1000)
	bad, cut, sent := 0, 0, 0
	a.nextStep()
	for i := range rounds {
		if i%50 == 49 {
			a.nextStep()
		}
		step := a.step()
		k := a.element(u, step)
		good := a.seal(u, step, claim, netip.Addr{}, 80)
		flipped := append([]byte(nil), good...)
		flipped[40] ^= 1
		cases := [][]byte{
			make([]byte, 1), make([]byte, 16), make([]byte, derive.MinPayload-1), // too short
			make([]byte, derive.MaxPayload+1), make([]byte, 300), // too long
			good[:len(good)-1], flipped, append(append([]byte(nil), good...), 1, 2, 3, 4, 5, 6, 7, 8),
			a.seal(u, step+5, claim, netip.Addr{}, 80), // sealed for a step outside the window
		}
		for _, c := range cases {
			if err := r.packet(payloadKnock(l.AttackerV4, l.ServerV4, k, c)); err != nil {
				t.Fatal(err)
			}
		}
		bad += len(cases)
		if err := r.packet(payloadKnock(l.AttackerV4, l.ServerV4, k, make([]byte, 1000))); err != nil { // beyond the copy range
			t.Fatal(err)
		}
		cut++
		for _, m := range malformed4(l.AttackerV4, l.ServerV4) {
			if r.packet(m) == nil {
				sent++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if a.server.ProcessState != nil {
		t.Fatalf("the server died:\n%s", a.log)
	}
	if n := a.grants(l.AttackerV4.String()); n != 0 {
		t.Errorf("malformed payloads opened the door %d times", n)
	}
	a.control()
	st := a.stopStats()
	figure(t, "packet mode: malformed, truncated and oversized payloads to the elements, and malformed IPv4 packets",
		"sent %d bad payloads, %d beyond the copy range, %d malformed packets: server up, counted %d bad payloads, %d cut captures, %d malformed; 0 opened; the client's knock still opens",
		bad, cut, sent, st["bad_payloads"], st["truncated"], st["malformed"])
	if st["bad_payloads"] != bad {
		t.Errorf("bad payloads counted %d, sent %d", st["bad_payloads"], bad)
	}
	if st["truncated"] < cut {
		t.Errorf("cut captures counted %d, sent %d payloads beyond the copy range", st["truncated"], cut)
	}
}
