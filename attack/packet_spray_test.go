//go:build linux

package attack

import (
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// junk sends junk from src until stop closes, in bursts of burst packets
// at an average of rate packets per second: TCP SYNs, UDP datagrams
// with random payloads (0 to 256 bytes) and ICMP echo requests with
// random data, to random ports (sequence numbers) of the knock range.
// It returns the count.
func junk(r *raw, src, dst netip.Addr, p derive.Params, rate, burst int, stop <-chan struct{}) int {
	rng := rand.New(rand.NewPCG(uint64(rate), uint64(burst)))
	tick := time.NewTicker(time.Duration(burst) * time.Second / time.Duration(rate))
	defer tick.Stop()
	buf := make([]byte, derive.MaxPayload)
	n := 0
	for {
		select {
		case <-stop:
			return n
		case <-tick.C:
			for range burst {
				k := derive.Knock{Proto: derive.Proto(1 + rng.IntN(3)), Port: uint16(int(p.PortMin) + rng.IntN(int(p.PortMax-p.PortMin)+1))}
				payload := buf[:rng.IntN(len(buf)+1)]
				for i := range payload {
					payload[i] = byte(rng.Uint32())
				}
				r.packet(payloadKnock(src, dst, k, payload))
				n++
			}
		}
	}
}

// hpingFlood starts hping3 --flood from the attacker with the client's
// source address: UDP datagrams with 80 bytes of data to the ports of
// the knock range, counting up from its start. stop ends it and returns
// the packets sent.
func hpingFlood(t *testing.T, a *arena) (stop func() int) {
	t.Helper()
	args := []string{"hping3", "--flood", "-q", "-a", a.l.ClientV4.String(), "--udp", "-d", "80", "-p", "++" + strconv.Itoa(int(a.cfg.Params.PortMin)), a.l.ServerV4.String()}
	cmd := a.l.Cmd(a.l.Attacker, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() int {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		m := regexp.MustCompile(`(\d+) packets transmitted`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("hping3 --flood said:\n%s", out.String())
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
}

// TestPacketSpray: junk forged with the client's address while the
// client knocks, in packet mode and, beside it, in sequence mode (the
// same junk, the knockRounds harness of TestSpray): none (the control),
// 60 pps in bursts of 30, 1,000 pps, and hping3 --flood. Each knock is
// one send with --retries 0 waiting 300 ms for the user's own port, so
// a packet knock is one packet. Packet mode must open every time.
func TestPacketSpray(t *testing.T) {
	require(t, "hping3")
	knocks := scale(2, 200)
	for _, mode := range []string{"packet", "sequence"} {
		t.Run(mode, func(t *testing.T) {
			var a *arena
			if mode == "packet" {
				a = newPacketArena(t, 10)
			} else {
				a = newArena(t, 10, nil)
			}
			r := openRaw(t, a.l, a.l.Attacker)
			client := a.l.ClientV4.String()
			for _, c := range []struct {
				name        string
				rate, burst int
				flood       bool
			}{{"no junk", 0, 0, false}, {"60 pps in bursts of 30", 60, 30, false}, {"1,000 pps", 1000, 1, false}, {"hping3 --flood", 0, 0, true}} {
				stopJunk := func() int { return 0 }
				switch {
				case c.flood:
					stopJunk = hpingFlood(t, a)
				case c.rate > 0:
					stop, done := make(chan struct{}), make(chan int)
					go func() { done <- junk(r, a.l.ClientV4, a.l.ServerV4, a.cfg.Params, c.rate, c.burst, stop) }()
					stopJunk = func() int { close(stop); return <-done }
				}
				start := time.Now()
				a.nextStep()
				ok := a.knockRounds(a.l.Client, client, knocks, "--retries", "0")
				sent := stopJunk()
				rate := float64(sent) / time.Since(start).Seconds()
				figure(t, mode+" mode: junk forged as the client's address", "%s (%d packets, %.0f pps): success %d/%d (%.0f%%)",
					c.name, sent, rate, ok, knocks, 100*float64(ok)/float64(knocks))
				switch {
				case mode == "packet" && ok != knocks:
					t.Errorf("packet mode, %s: %d of %d knocks opened", c.name, ok, knocks)
				case c.name == "no junk" && ok != knocks: // the sequence side's control
					t.Errorf("sequence mode without junk: %d of %d knocks opened", ok, knocks)
				}
			}
			st := a.stopStats()
			figure(t, mode+" mode: NFLOG messages lost over the junk", "%d of %d", st["lost"], st["packets"])
		})
	}
}
