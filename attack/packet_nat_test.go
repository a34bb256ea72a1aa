//go:build linux

package attack

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
//     line, and opens;
//   - symmetric NAT (another address toward the STUN responder than
//     toward the server): the claim of the discovered address is
//     refused; one retry with Source opens for the server-side address
//     alone (see symmetric).
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

	t.Run("symmetric NAT: Source after the first try", func(t *testing.T) {
		symmetric(t, a, u)
	})
}

// symmetric knocks as u from natA through a NAT that maps natA to
// 198.18.2.101 toward the STUN responder and to 198.18.2.100 toward the
// otpknock server. The claim of the discovered address is refused for
// the packets' source in the first step (the first packet and its three
// copies); the client says so in one line, forgets the discovered
// address and knocks once more in the next step with Source set and
// without that address, which opens for 198.18.2.100 alone.
func symmetric(t *testing.T, a *arena, u user) {
	l := a.l
	srv2, mapped := symmetricNAT(t, l)
	var pc net.PacketConn
	var err error
	l.Do(t, l.Server, func() { pc, err = net.ListenPacket("udp4", srv2.String()+":3478") })
	if err != nil {
		t.Fatal(err)
	}
	stun := publicaddrtest.Serve(t, pc)
	os.Remove(publicaddr.CachePath(a.store))
	a.closedFrom(l.NatA)
	a.nextStep()
	nat, from := l.NatV4.String(), netip.AddrPortFrom(srv2, 3478).String()
	grants, logged, step := a.grants(nat), len(a.log.String()), a.step()
	ok, out := a.send(l.NatA, u.name, "--nat", "--stun", from)
	if !ok || stun.Requests() == 0 {
		t.Fatalf("the knock through the symmetric NAT did not open (STUN requests %d):\n%s", stun.Requests(), out)
	}
	// natA reaches the server's second address from 198.18.2.101.
	asNAT, asMapped := a.dialFrom(l.NatA, netip.AddrPortFrom(l.ServerV4, 2222)), a.dialFrom(l.NatA, netip.AddrPortFrom(srv2, 2222))
	if !asNAT || asMapped {
		t.Errorf("tcp/2222 answers natA as %s: %v, as %v: %v; want true, false", nat, asNAT, mapped, asMapped)
	}
	// The first step's packet and its three copies, the fallback said
	// once, then the next step's one packet, which opens.
	disc := fmt.Sprintf("IPv4 %v for 198.19.0.2 from %s, 0s old", mapped, from)
	want := fmt.Sprintf(`profile p0: packet knock to 198.18.1.1
source: 198.19.0.2 (the route's)
public address: %[1]s
claim: %[2]v; the packet's source not claimed
wait: tcp 198.18.1.1:2222, 2s per attempt
NAT: your route source 198.19.0.2 to 198.18.1.1 is translated (--nat): the knock claims your public address %[1]s
packet 1 -> 198.18.1.1 (step %[3]d)
packet 2 -> 198.18.1.1 (step %[3]d)
packet 3 -> 198.18.1.1 (step %[3]d)
packet 4 -> 198.18.1.1 (step %[3]d)
198.18.1.1:2222 still closed after claiming your public address %[2]v (a NAT may map to another address toward the server): knocking again with the server opening the address the knock comes from
packet 1 -> 198.18.1.1 (step %[4]d)
p0: 198.18.1.1:2222 open after the first knock (step %[4]d, attempt 2)
`, disc, mapped, step, step+1)
	if diff := cmp.Diff(want, clientLines(out)); diff != "" {
		t.Errorf("send -v (-want +got):\n%s", diff)
	}
	// The refused packets' summary follows once step has left the window.
	summary := fmt.Sprintf(`msg="refused sources" user=p0 step=%d count=4 sources=1 reason="source not among the claimed addresses"`, step)
	if !a.waitLog(summary, 4*time.Second) {
		t.Errorf("no summary of the 4 refused packets of step %d:\n%s", step, a.log.String()[logged:])
	}
	lines := []string{
		fmt.Sprintf(`msg="refused source" src=%s user=p0 step=%d ports=tcp/2222,tcp/3000 knock=packet addrs=%v reason="source not among the claimed addresses"`, nat, step, mapped),
		fmt.Sprintf(`msg=grant src=%s user=p0 step=%d ports=tcp/2222,tcp/3000 knock=packet addrs=%s timeout=3s`, nat, step+1, nat),
		summary,
	}
	if diff := cmp.Diff(lines, serverLines(a.log.String()[logged:])); diff != "" {
		t.Errorf("server log (-want +got):\n%s", diff)
	}
	if a.grants(nat) != grants+1 || a.grants(mapped.String()) != 0 {
		t.Errorf("grants for %s went from %d to %d, %d for %v; want one more, none:\n%s", nat, grants, a.grants(nat), a.grants(mapped.String()), mapped, a.log)
	}
	if es, err := (&publicaddr.Cache{Path: publicaddr.CachePath(a.store)}).Entries(time.Now()); err != nil || len(es) != 0 {
		t.Errorf("the refused discovered address is still cached: %v, %v", es, err)
	}
	n := packetsPerStep(out)
	figure(t, "packet knock through a symmetric NAT (another address toward STUN)", "%d packets in the first step, %d in the next; open for %s: %v, for %v: %v",
		n[step], n[step+1], nat, asNAT, mapped, asMapped)
}

// packetsPerStep counts the packets of a send -v output by step.
func packetsPerStep(out string) map[uint64]int {
	n := map[uint64]int{}
	for _, m := range packetRE.FindAllStringSubmatch(out, -1) {
		s, _ := strconv.ParseUint(m[3], 10, 64)
		n[s]++
	}
	return n
}

// packetLineRE matches a packet line of send -v, and openRE its last
// line's time.
var (
	packetLineRE = regexp.MustCompile(`(?m)^(packet \d+) \S+ (-> \S+ \(step \d+), \d+-byte payload, [^)]*\)$`)
	openRE       = regexp.MustCompile(`(?m)( open) \d+ ms (after the first knock)`)
)

// clientLines is a send -v output without what varies between runs: a
// packet's element, size and socket, and the time to open.
func clientLines(out string) string {
	return openRE.ReplaceAllString(packetLineRE.ReplaceAllString(out, "$1 $2)"), "$1 $2")
}

// eventRE matches the refused-source and grant lines of a server log,
// from their message on.
var eventRE = regexp.MustCompile(`msg=("refused sources?"|grant) .*`)

// serverLines returns the refused-source and grant lines of a server
// log, without their time and latency.
func serverLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if m := eventRE.FindString(line); m != "" {
			if k := strings.Index(m, " latency="); k >= 0 {
				m = m[:k]
			}
			out = append(out, m)
		}
	}
	return out
}

// dialFrom reports whether a TCP connect from ns to dst succeeds.
func (a *arena) dialFrom(ns string, dst netip.AddrPort) bool {
	var err error
	a.l.Do(a.t, ns, func() {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", dst.String(), 500*time.Millisecond); err == nil {
			c.Close()
		}
	})
	return err == nil
}

// closedFrom waits until the server's tcp/2222 refuses ns (an earlier
// grant for it has ended), at most open_timeout and a second.
func (a *arena) closedFrom(ns string) {
	a.t.Helper()
	dst := netip.AddrPortFrom(a.l.ServerV4, 2222)
	for deadline := time.Now().Add(a.cfg.OpenTimeout + time.Second); a.dialFrom(ns, dst); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			a.t.Fatalf("tcp/2222 still answers %s %v after its last grant", ns, a.cfg.OpenTimeout+time.Second)
		}
	}
}
