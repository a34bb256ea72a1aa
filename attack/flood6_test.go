//go:build linux

package attack

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/matcher"
)

// rssBound is the most peak RSS a flood may leave the server with (as
// TestFlood's): the measured peaks are 20-80 MB.
const rssBound = 256 << 10 // kB

// TestFloodIPv6 floods the knock range over IPv6 from random sources of
// 2001:2::/48: TCP SYNs and UDP datagrams to random ports of the range,
// and as many aimed at what the server armed (every user's first knock
// or element of the steps around now), each from a new source, so the
// kernel tracks the source and the daemon starts a sequence for it.
// Meanwhile the client knocks once per step as a sequence user and a
// packet user, over IPv4 and over IPv6. The honest knocks must open, the
// server must live, its peak RSS and the sources it and the kernel
// track must stay within their bounds (matcher.DefaultMaxSources,
// firewall.MaxTracked), the flood must reach it, and no flooding
// source may be granted anything. Each step a new IPv6 address of the
// client's knocks too, and must open: the kernel's IPv6 source set must
// hold MaxTracked without a resize (its hash size times its bucket
// size), for the packet path cannot grow it; at ipset's default hash
// size it held 12,288 and a new address failed (ADVERSARIAL.md).
func TestFloodIPv6(t *testing.T) {
	a := newArena(t, 5, nil)
	a.addPacketUsers(5, 3100)
	l := a.l
	f := openFlood(t, l)
	rate := scale(20000, 60000)
	rounds := scale(3, 20)
	// The client's IPv6 address knocks once before the flood: the kernel
	// tracks it, and each knock renews it (see the new addresses below).
	if !a.knockAs(a.users[4], userPort(a.users[4]), true) {
		t.Fatalf("u4's knock over IPv6 did not open without a flood")
	}
	m0 := a.metrics()
	targets := &aims{}
	targets.set(a.armed(a.packetUsers()))
	stop, done := make(chan struct{}), make(chan int)
	params := a.cfg.Params
	go func() {
		rng := rand.New(rand.NewPCG(6, 6))
		protos := []derive.Proto{derive.TCP, derive.UDP}
		done <- sendFlood(f, rate, stop, func() []byte {
			return floodPacket(rng, true, l.ServerV6, params, targets, 0.5, protos)
		})
	}()
	start := time.Now()
	// Each honest kind knocks once per step, rotating over two users, so
	// a user's grant has expired (open_timeout 3 s) when it comes back.
	kinds := []struct {
		name  string
		users []int // indices into a.users: u0-u4, then p0-p4
		v6    bool
	}{{"sequence, IPv4", []int{0, 2}, false}, {"sequence, IPv6", []int{1, 3}, true},
		{"packet, IPv4", []int{5, 7}, false}, {"packet, IPv6", []int{6, 8}, true}}
	ok := make([]int, len(kinds))
	var pk peaks
	honest := []netip.Addr{l.ClientV4, l.ClientV6}
	// A client that has not knocked before: a new IPv6 address of the
	// client's each step (u4's sequence; the routes leave from it).
	freshOK := 0
	for round := range rounds {
		a.nextStep()
		targets.set(a.armed(a.packetUsers()))
		for i, k := range kinds {
			u := a.users[k.users[round%2]]
			if a.knockAs(u, userPort(u), k.v6) {
				ok[i]++
			}
			a.sample(&pk, honest...)
		}
		fresh := netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 0, 2, 14: 0x10, 15: byte(round)})
		honest = append(honest, fresh)
		a.fromNewAddress(fresh, func() {
			if a.knockFrom(a.users[4], userPort(a.users[4]), fresh) {
				freshOK++
			}
		})
	}
	close(stop)
	sent := <-done
	elapsed := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	a.sample(&pk, honest...)
	m1 := a.metrics()
	read := packetsRead(m1) - packetsRead(m0)
	foreign := append(pk.foreign, a.foreignGrantLines(honest...)...)
	figure(t, "IPv6 flood, random sources of 2001:2::/48, half to the range, half to armed elements, 10 users (5 sequence, 5 packet)",
		"%.0f kpps for %.0f s (%d packets): server alive, peak RSS %d MB, daemon read %d, sources tracked at most %d (bound %d), kernel source sets at most %d IPv4 and %d IPv6 entries (bound %d), honest knocks: sequence IPv4 %d/%d, IPv6 %d/%d, packet IPv4 %d/%d, IPv6 %d/%d, grants to flooding sources %d",
		float64(sent)/elapsed.Seconds()/1000, elapsed.Seconds(), sent, pk.rssKB/1024, read, pk.sources, matcher.DefaultMaxSources,
		pk.src4, pk.src6, firewall.MaxTracked, ok[0], rounds, ok[1], rounds, ok[2], rounds, ok[3], rounds, len(foreign))
	// One failure in ten is allowed, as TestFlood allows, for a shared
	// machine's scheduling (--retries 0: one sequence per knock).
	for i, k := range kinds {
		if least := rounds - (rounds+9)/10; ok[i] < least {
			t.Errorf("%s: %d of %d honest knocks opened, want at least %d", k.name, ok[i], rounds, least)
		}
	}
	checkFlood(t, pk, foreign)
	// The flood must have reached the server: its aimed half passes the
	// kernel's pre-filter and tracks a source each.
	if read < sent/10 || pk.src6 < 1000 {
		t.Errorf("the flood did not reach the daemon: %d sent, %d read (want %d), %d IPv6 sources tracked by the kernel (want 1,000)", sent, read, sent/10, pk.src6)
	}
	capacity := a.setCapacity("otpknock-src6")
	figure(t, "IPv6 flood: a client address new to the server each step", "sequence knocks opened %d/%d (the kernel's IPv6 source set holds %d at most: %s)",
		freshOK, rounds, capacity, a.setHeader("otpknock-src6"))
	// The kernel's packet path cannot grow an ipset hash (only a change
	// from user space resizes it): once its buckets are full a new
	// source is not tracked, its later knocks are dropped in the kernel,
	// and a client that was not tracked before the flood cannot open.
	if capacity < firewall.MaxTracked {
		t.Errorf("the kernel's IPv6 source set holds %d at most, want %d (firewall.MaxTracked): %s", capacity, firewall.MaxTracked, a.setHeader("otpknock-src6"))
	}
	if least := rounds - (rounds+9)/10; freshOK < least {
		t.Errorf("a new client address each step: %d of %d sequences opened, want at least %d", freshOK, rounds, least)
	}
	st := a.stopStats()
	figure(t, "IPv6 flood: server counters", "lost %d, started %d, evicted %d, completed %d, packet grants %d, bad payloads %d",
		st["lost"], st["started"], st["evicted"], st["completed"], st["packet_grants"], st["bad_payloads"])
}
