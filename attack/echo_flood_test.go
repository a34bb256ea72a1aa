//go:build linux

package attack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/packettest"
	"github.com/otpknock/otpknock/matcher"
	"golang.org/x/sys/unix"
)

// pinger sends plain pings (echo requests numbered from 1, as ping(8)
// does: far below the knock range) from the client's own address over
// IPv4 and IPv6 through the kernel's raw ICMP sockets, and counts the
// echo replies that come back.
type pinger struct {
	fd4, fd6        int
	dst4, dst6      netip.Addr
	sent, answered  atomic.Int64
	stop, recvsDone chan struct{}
}

// pingID is the identifier of the plain pings' echo requests.
const pingID = 0x4b4e

func startPinger(t *testing.T, a *arena, rate int) *pinger {
	p := &pinger{dst4: a.l.ServerV4, dst6: a.l.ServerV6, stop: make(chan struct{}), recvsDone: make(chan struct{}, 2)}
	var err error
	a.l.Do(t, a.l.Client, func() {
		if p.fd4, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP); err != nil {
			return
		}
		p.fd6, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)
	})
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	for _, fd := range []int{p.fd4, p.fd6} {
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		go p.count(fd)
	}
	go p.send(rate)
	t.Cleanup(func() { unix.Close(p.fd4); unix.Close(p.fd6) })
	return p
}

// send sends echo requests 1, 2, 3... (up to 10,000, then from 1
// again) alternately over IPv4 and IPv6 at rate a second until stop
// closes.
func (p *pinger) send(rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		seq := uint16(1 + n%10000) // ping(8) reaches 20,000 after 5.5 hours
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		b := packettest.Echo(8, seq)
		binary.BigEndian.PutUint16(b[4:], pingID)
		var err error
		if n%2 == 0 {
			binary.BigEndian.PutUint16(b[2:], packettest.Checksum(b))
			err = unix.Sendto(p.fd4, b, 0, &unix.SockaddrInet4{Addr: p.dst4.As4()})
		} else {
			b[0] = 128 // the kernel sums an ICMPv6 raw socket's messages
			err = unix.Sendto(p.fd6, b, 0, &unix.SockaddrInet6{Addr: p.dst6.As16()})
		}
		if err == nil {
			p.sent.Add(1)
		}
	}
}

// count counts the echo replies to the plain pings arriving on fd.
func (p *pinger) count(fd int) {
	defer func() { p.recvsDone <- struct{}{} }()
	buf := make([]byte, 1500)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		b := buf[:n]
		if fd == p.fd4 && n >= 20 { // a raw IPv4 socket reads the IP header too
			b = b[int(b[0]&0x0f)*4:]
		}
		if len(b) >= 8 && (b[0] == 0 || b[0] == 129) && binary.BigEndian.Uint16(b[4:]) == pingID {
			p.answered.Add(1)
		}
	}
}

// end stops the pings and returns those sent and answered.
func (p *pinger) end() (sent, answered int64) {
	close(p.stop)
	<-p.recvsDone
	<-p.recvsDone
	return p.sent.Load(), p.answered.Load()
}

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

// echoFlood is one run of TestEchoFlood, the server's icmp_echo being
// echo.
func echoFlood(t *testing.T, a *arena, echo string, run *echoRuns) {
	last := run.last
	l := a.l
	f := openFlood(t, l)
	rate, knocks := scale(20000, 60000), scale(3, 20)
	pu := a.packetUsers()
	targets := &aims{}
	icmpOnly := func() []derive.Knock {
		return slices.DeleteFunc(a.armed(pu), func(k derive.Knock) bool { return k.Proto != derive.ICMP })
	}
	targets.set(icmpOnly())
	m0 := a.metrics()
	stop, done := make(chan struct{}), make(chan int)
	params := a.cfg.Params
	go func() {
		rng := rand.New(rand.NewPCG(7, 7))
		icmp := []derive.Proto{derive.ICMP}
		i := 0
		done <- sendFlood(f, rate, stop, func() []byte {
			i++
			dst := l.ServerV4
			if i%2 == 0 {
				dst = l.ServerV6
			}
			return floodPacket(rng, i%2 == 0, dst, params, targets, 0.25, icmp)
		})
	}()
	pings := startPinger(t, a, 1000)
	start := time.Now()
	// Sequences whose first knock goes over ICMP from an address the
	// server never saw are measured apart: with iptables the kernel does
	// not track the source of an echo request (no set matches its
	// sequence number), the daemon sends none of a flood's sources to
	// the kernel, and the sequence's later knocks then stop in the
	// kernel's pre-filter (ADVERSARIAL.md). The client's own addresses
	// are tracked from their first TCP or UDP first knock on.
	kinds := []struct {
		name          string
		packet, first bool // a packet user; a sequence whose first knock goes over ICMP
		v6            bool
	}{{"sequence, IPv4", false, false, false}, {"sequence, IPv6", false, false, true},
		{"packet, IPv4", true, true, false}, {"packet, IPv6", true, true, true},
		{"sequence, first knock over ICMP, a new IPv4 address", false, true, false}, {"sequence, first knock over ICMP, a new IPv6 address", false, true, true}}
	ok, tried := make([]int, len(kinds)), make([]int, len(kinds))
	var pk peaks
	// Each round begins a step; each kind knocks as the first user free
	// (none of its knocks in the last 3.5 s: its grant lasted 3 s, its
	// step is used) whose knock of the step goes over ICMP, waiting for
	// the next step when there is none (three at most).
	for range knocks {
		a.nextStep()
		for i, k := range kinds {
			if k.first && !k.packet && echo != "host" {
				continue // measured once: the limit does not depend on icmp_echo
			}
			idx := -1
			for wait := 0; idx < 0 && wait < 3; wait++ {
				if wait > 0 {
					a.nextStep()
				}
				a.waitFreshStep(500 * time.Millisecond)
				targets.set(icmpOnly())
				step := a.step()
				idx = slices.IndexFunc(a.users, func(u user) bool {
					bound := u.name == fmt.Sprintf("u%d", seqUsers-1) || u.name == "p7"
					if pu[u.name] != k.packet || bound || time.Since(last[u.name]) < 3500*time.Millisecond {
						return false
					}
					first, later := a.icmpAt(u, step, pu)
					return first && k.first || later && !k.first
				})
			}
			if idx < 0 {
				t.Logf("no %s user free whose knock goes over ICMP in three steps", k.name)
				continue
			}
			u := a.users[idx]
			last[u.name] = time.Now()
			tried[i]++
			if k.first && !k.packet {
				n := len(run.honest)
				fresh := netip.MustParseAddr(fmt.Sprintf("198.18.2.%d", 150+n))
				if k.v6 {
					fresh = netip.MustParseAddr(fmt.Sprintf("2001:2:2::2%03d", n))
				}
				run.honest = append(run.honest, fresh)
				a.fromNewAddress(fresh, func() {
					if a.knockFrom(u, userPort(u), fresh) {
						ok[i]++
					}
				})
			} else if a.knockAs(u, userPort(u), k.v6) {
				ok[i]++
			}
		}
		a.sample(&pk, run.honest...)
	}
	sentPings, answered := pings.end()
	close(stop)
	sent := <-done
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	a.sample(&pk, run.honest...)
	read := packetsRead(a.metrics()) - packetsRead(m0)
	foreign := append(pk.foreign, a.foreignGrantLines(run.honest...)...)
	var opened []string
	for i, k := range kinds {
		if !(k.first && !k.packet && echo != "host") {
			opened = append(opened, fmt.Sprintf("%s %d/%d", k.name, ok[i], tried[i]))
		}
	}
	figure(t, "echo flood, random sources of 198.18.0.0/15 and 2001:2::/48, to the range (a quarter to armed ICMP elements), icmp_echo: "+echo+", 20 users, plain pings from the client at 1,000 a second",
		"%.0f kpps for %.0f s (%d packets): server alive, peak RSS %d MB, daemon read %d; honest knocks over ICMP: %s; plain pings answered %d of %d; grants to flooding sources %d",
		float64(sent)/elapsed.Seconds()/1000, elapsed.Seconds(), sent, pk.rssKB/1024, read,
		strings.Join(opened, ", "), answered, sentPings, len(foreign))
	for i, k := range kinds {
		if k.first && !k.packet && echo != "host" {
			continue
		}
		if tried[i] < knocks {
			t.Errorf("%s: %d of %d knocks found a user whose knock goes over ICMP", k.name, tried[i], knocks)
		}
		if k.first && !k.packet {
			continue // measured: a known limit of the iptables backend under a flood
		}
		if least := tried[i] - (tried[i]+9)/10; ok[i] < least {
			t.Errorf("%s: %d of %d honest knocks over ICMP opened, want at least %d", k.name, ok[i], tried[i], least)
		}
	}
	switch {
	case echo == "host" && answered < sentPings/2:
		t.Errorf("icmp_echo: host: %d of %d plain pings answered, want most", answered, sentPings)
	case echo == "drop" && answered != 0:
		t.Errorf("icmp_echo: drop: %d of %d plain pings answered, want none", answered, sentPings)
	}
	if pk.rssKB > rssBound {
		t.Errorf("peak RSS %d MB under the flood, want at most %d MB", pk.rssKB/1024, rssBound/1024)
	}
	if pk.sources > matcher.DefaultMaxSources {
		t.Errorf("the daemon tracked %d sources at once, its bound is %d", pk.sources, matcher.DefaultMaxSources)
	}
	// With iptables every echo request in the range reaches the daemon
	// (no set matches a sequence number).
	if read < sent/2 {
		t.Errorf("the flood did not reach the daemon: %d sent, %d read", sent, read)
	}
	if len(foreign) > 0 {
		t.Errorf("grants to flooding sources (grant set members, log lines):\n%s", strings.Join(foreign, "\n"))
	}
}
