//go:build linux

package attack

import (
	"encoding/binary"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/packettest"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/publicaddr/publicaddrtest"
)

// toElement keeps the captured packets that travel to element k: UDP
// datagrams to its port, or echo requests (the STUN requests the tap
// also sees are UDP to 3478).
func toElement(pkts [][]byte, k derive.Knock) [][]byte {
	var out [][]byte
	for _, b := range pkts {
		ihl := int(b[0]&0x0f) * 4
		if k.Proto == derive.ICMP && b[9] == packettest.ProtoICMP ||
			k.Proto == derive.UDP && b[9] == packettest.ProtoUDP && binary.BigEndian.Uint16(b[ihl+2:]) == k.Port {
			out = append(out, b)
		}
	}
	return out
}

// TestPacketBehindNAT knocks with the real client from behind the lab's
// masquerading NAT (natA, 198.19.0.2, seen as 198.18.2.100), with a STUN
// responder beside the server. The lab's inside addresses look global
// to the client (they are in 198.18.0.0/15), so it is a NAT the client
// does not recognise: --nat says so.
//
//   - without --nat or --stun: the claim of the inside address is
//     refused; the client stops after one retry (two steps), names
//     --nat, and the server logs at most two "refused source" lines;
//   - discovered: the claim names the NAT's address, Source clear, and
//     the service opens for it;
//   - intercepted: the knock's packets are dropped before the server and
//     re-sent from the attacker's address: nothing opens for it;
//   - STUN unreachable: the knock falls back to Source, says so in one
//     line, and opens.
func TestPacketBehindNAT(t *testing.T) {
	a := newPacketArena(t, 2)
	l := a.l
	var pc net.PacketConn
	var err error
	l.Do(t, l.Server, func() { pc, err = net.ListenPacket("udp4", "198.18.1.1:3478") })
	if err != nil {
		t.Fatal(err)
	}
	stun := publicaddrtest.Serve(t, pc)
	tp := openTap(t, a)
	att := openRaw(t, l, l.Attacker)
	u, nat, attacker := a.users[0], l.NatV4.String(), l.AttackerV4.String()
	withStun := []string{"--nat", "--stun", "198.18.1.1:3478"}

	t.Run("unrecognised NAT: one retry, a hint, two log lines", func(t *testing.T) {
		a.waitFreshStep(time.Second)
		before := strings.Count(a.log.String(), `msg="refused source" `)
		start := time.Now()
		ok, out := a.send(l.NatA, u.name, "--wait=tcp/3000,1s")
		took := time.Since(start)
		if ok {
			t.Fatalf("the claim of an inside address opened:\n%s", out)
		}
		if _, _, n := sentPackets(out); n > 2*(1+3) || !strings.Contains(out, "pass --nat") {
			t.Errorf("sent %d packets in %v, want at most 2 steps of 4; the error must name --nat:\n%s", n, took, out)
		}
		time.Sleep(300 * time.Millisecond)
		lines := strings.Count(a.log.String(), `msg="refused source" `) - before
		figure(t, "packet knock from behind an unrecognised NAT", "%d refused-source lines for one failed send, %v", lines, took.Round(100*time.Millisecond))
		if lines < 1 || lines > 2 {
			t.Errorf("%d refused-source lines for one failed send, want 1 or 2:\n%s", lines, a.log)
		}
	})

	t.Run("discovered", func(t *testing.T) {
		a.waitFreshStep(time.Second)
		before := a.grants(nat)
		ok, out := a.send(l.NatA, u.name, append([]string{"--retries", "0"}, withStun...)...)
		if !ok {
			t.Fatalf("the knock from behind the NAT did not open:\n%s", out)
		}
		for _, want := range []string{"public address: IPv4 198.18.2.100 for 198.19.0.2 from 198.18.1.1:3478", "claim: 198.18.2.100; the packet's source not claimed"} {
			if !strings.Contains(out, want) {
				t.Errorf("send -v lacks %q:\n%s", want, out)
			}
		}
		if a.grants(nat) != before+1 || stun.Requests() == 0 {
			t.Errorf("grants for %s went from %d to %d; STUN requests %d:\n%s", nat, before, a.grants(nat), stun.Requests(), a.log)
		}
	})

	t.Run("intercepted and re-sent from the attacker", func(t *testing.T) {
		time.Sleep(a.cfg.OpenTimeout) // the last grant ends
		a.nextStep()
		k := a.element(u, a.step())
		drop := []string{"INPUT", "-s", nat, "-p", "udp", "--dport", itoa(k.Port), "-j", "DROP"}
		if k.Proto == derive.ICMP {
			drop = []string{"INPUT", "-s", nat, "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"}
		}
		l.MustRun(t, l.Server, append([]string{"iptables", "-I"}, drop...)...)
		tp.grab(l.NatV4)
		ok, out := a.send(l.NatA, u.name, append([]string{"--retries", "0", "--wait=tcp/3000,1s"}, withStun...)...)
		l.MustRun(t, l.Server, append([]string{"iptables", "-D"}, drop...)...)
		pkts := toElement(tp.grab(l.NatV4), k)
		if ok || len(pkts) == 0 || !strings.Contains(out, "claim: 198.18.2.100; the packet's source not claimed") {
			t.Fatalf("opened %v, captured %d packets; want a closed knock claiming 198.18.2.100 only:\n%s", ok, len(pkts), out)
		}
		before, logged := a.counts(), a.grants(attacker)
		for _, b := range pkts {
			if err := att.packet(resendFrom(b, l.AttackerV4)); err != nil {
				t.Fatal(err)
			}
		}
		after := a.seen(before, func() int { return len(pkts) })
		if after.grants != before.grants || a.grants(attacker) != logged {
			t.Errorf("the re-sent packets opened: grants %d -> %d:\n%s", before.grants, after.grants, a.log)
		}
		if !strings.Contains(a.log.String(), `msg="refused source" src=`+attacker) {
			t.Errorf("the re-sent packets were not refused for their source:\n%s", a.log)
		}
	})

	t.Run("STUN unreachable: Source, said once", func(t *testing.T) {
		os.Remove(publicaddr.CachePath(a.store))
		a.nextStep()
		before := a.grants(nat)
		ok, out := a.send(l.NatA, u.name, "--retries", "0", "--nat", "--stun", "198.18.1.1:3479")
		if !ok || a.grants(nat) != before+1 {
			t.Fatalf("the Source fallback did not open (grants %d -> %d):\n%s", before, a.grants(nat), out)
		}
		if n := strings.Count(out, "the knock asks the server to open the address it comes from"); n != 1 ||
			!strings.Contains(out, "NAT: your route source 198.19.0.2 is translated (--nat) and public-address discovery failed (") {
			t.Errorf("the fallback is said %d times, want once, naming the failed discovery:\n%s", n, out)
		}
	})

}
