//go:build linux

package attack

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/internal/packettest"
	"github.com/otpknock/otpknock/matcher"
	"golang.org/x/sys/unix"
)

// randomSource is a random address of 198.18.0.0/15 outside the lab's
// own networks (198.18.1.0/24, 198.18.2.0/24, 198.19.0.0/24), or of the
// benchmarking prefix 2001:2::/48 (the lab's IPv6 networks lie outside
// it).
func randomSource(rng *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		b := [16]byte{0x20, 0x01, 0x00, 0x02}
		for i := 6; i < 16; i++ {
			b[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom16(b)
	}
	for {
		b := [4]byte{198, 18 | byte(rng.IntN(2)), byte(rng.Uint32()), byte(1 + rng.IntN(254))}
		if b[1] == 18 && (b[2] == 1 || b[2] == 2) || b[1] == 19 && b[2] == 0 {
			continue
		}
		return netip.AddrFrom4(b)
	}
}

// raw6 sends hand-built IPv6 packets (any source address) from the
// namespace it was opened in.
type raw6 struct{ fd int }

func openRaw6(t *testing.T, l *netnstest.Lab, ns string) *raw6 {
	var fd int
	var err error
	l.Do(t, ns, func() { fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &raw6{fd: fd}
}

func (r *raw6) packet(b []byte) error {
	return unix.Sendto(r.fd, b, 0, &unix.SockaddrInet6{Addr: [16]byte(b[24:40])})
}

// floodSender sends a flood's packets of both families from the
// attacker.
type floodSender struct {
	v4 *raw
	v6 *raw6
}

func openFlood(t *testing.T, l *netnstest.Lab) floodSender {
	return floodSender{openRaw(t, l, l.Attacker), openRaw6(t, l, l.Attacker)}
}

func (f floodSender) packet(b []byte) error {
	if b[0]>>4 == 6 {
		return f.v6.packet(b)
	}
	return f.v4.packet(b)
}

// sendFlood sends gen's packets at rate packets a second until stop closes
// and returns the count sent. It runs in a goroutine of its own: gen
// must not touch the test.
func sendFlood(f floodSender, rate int, stop <-chan struct{}, gen func() []byte) int {
	start, n := time.Now(), 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		for range 32 {
			if f.packet(gen()) == nil {
				n++
			}
		}
		if ahead := time.Duration(n)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
}

// aims are the knocks a flood aims at: the elements the server armed
// (first knocks of sequence users, packet users' elements), swapped as
// steps go by.
type aims struct {
	p atomic.Pointer[[]derive.Knock]
}

func (a *aims) set(ks []derive.Knock) { a.p.Store(&ks) }

// pick returns an aimed knock, or false when none is set.
func (a *aims) pick(rng *rand.Rand) (derive.Knock, bool) {
	ks := a.p.Load()
	if ks == nil || len(*ks) == 0 {
		return derive.Knock{}, false
	}
	return (*ks)[rng.IntN(len(*ks))], true
}

// armed returns what the server has armed around now: each unbound
// user's first knock (sequence users) or element (packet users) of the
// steps from one before the current to two after it.
func (a *arena) armed(packetUsers map[string]bool) []derive.Knock {
	var out []derive.Knock
	now := a.step()
	for _, u := range a.users {
		for step := now - 1; step <= now+2; step++ {
			if packetUsers[u.name] {
				out = append(out, a.element(u, step))
			} else {
				out = append(out, a.seqOf(u, step, netip.Addr{})[0])
			}
		}
	}
	return out
}

// knockAs has the client knock once as u over IPv4 or IPv6 (the
// server's address of that family as the target, --retries 0), waiting
// up to 1 s for port, u's own, and reports whether the server logged a
// grant for u and the client's address of that family.
func (a *arena) knockAs(u user, port int, v6 bool) bool {
	src := a.l.ClientV4
	if v6 {
		src = a.l.ClientV6
	}
	return a.knockFrom(u, port, src)
}

// knockFrom is knockAs from src, an address of the client's namespace
// its routes leave from.
func (a *arena) knockFrom(u user, port int, src netip.Addr) bool {
	v6 := src.Is6()
	target, args := u.name, []string{"-4"}
	if v6 {
		target, args = a.l.ServerV6.String(), []string{"-6", "--profile", u.name}
	}
	mine := "msg=grant src=" + src.String() + " user=" + u.name + " "
	before := strings.Count(a.log.String(), mine)
	opened, out := a.send(a.l.Client, target, append(args, fmt.Sprintf("--wait=tcp/%d,1s", port), "--retries", "0")...)
	for wait := 0; opened && wait < 50 && strings.Count(a.log.String(), mine) == before; wait++ {
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Count(a.log.String(), mine) > before {
		return true
	}
	a.t.Logf("%s over IPv%s was not granted; the client said:\n%s", u.name, map[bool]string{false: "4", true: "6"}[v6], out)
	return false
}

// fromNewAddress gives the client's namespace the address addr, has
// its default route of addr's family leave from it while fn runs, then
// takes it away again: the server sees a client it never saw.
func (a *arena) fromNewAddress(addr netip.Addr, fn func()) {
	a.t.Helper()
	l, prefix, gw, fam := a.l, "/24", "198.18.2.254", "-4"
	if addr.Is6() {
		prefix, gw, fam = "/64", "2001:2:2::fe", "-6"
	}
	l.MustRun(a.t, l.Client, "ip", "addr", "add", addr.String()+prefix, "dev", "veth0", "nodad")
	l.MustRun(a.t, l.Client, "ip", fam, "route", "replace", "default", "via", gw, "src", addr.String())
	defer func() {
		l.MustRun(a.t, l.Client, "ip", fam, "route", "replace", "default", "via", gw)
		l.MustRun(a.t, l.Client, "ip", "addr", "del", addr.String()+prefix, "dev", "veth0")
	}()
	fn()
}

// peaks are the highest figures seen while a flood runs.
type peaks struct {
	sources    int // the daemon's sources with a sequence in progress
	src4, src6 int // entries of the kernel's tracked-source sets
	rssKB      int
	foreign    []string // grant set members of flooding sources
}

// sample reads the server's figures into p; it fails the test when the
// server is gone.
func (a *arena) sample(p *peaks, honest ...netip.Addr) {
	a.t.Helper()
	if a.server.ProcessState != nil {
		a.t.Fatalf("the server died:\n%s", a.log)
	}
	p.sources = max(p.sources, int(a.metrics()["otpknock_sources_tracked"]))
	p.src4 = max(p.src4, a.setSize("otpknock-src4"))
	p.src6 = max(p.src6, a.setSize("otpknock-src6"))
	hwm, _ := procStat(a.t, a.server.Process.Pid)
	p.rssKB = max(p.rssKB, hwm)
	p.foreign = append(p.foreign, a.foreignGrants(honest...)...)
}

// packetsRead is what the daemon read over both families: every
// protocol's packets.
func packetsRead(m map[string]float64) int {
	return int(m[`otpknock_packets_total{proto="tcp"}`] + m[`otpknock_packets_total{proto="udp"}`] + m[`otpknock_packets_total{proto="icmp"}`])
}

// packetUsers names the users called p<i>.
func (a *arena) packetUsers() map[string]bool {
	out := map[string]bool{}
	for _, u := range a.users {
		if strings.HasPrefix(u.name, "p") {
			out[u.name] = true
		}
	}
	return out
}

// userPort is the port of u's own service: tcp/3000+i for u<i>,
// tcp/3100+i for p<i> (added with addPacketUsers(n, 3100)).
func userPort(u user) int {
	i, _ := strconv.Atoi(u.name[1:])
	if u.name[0] == 'p' {
		return 3100 + i
	}
	return 3000 + i
}

// floodPacket is a flood packet from a random source of the family:
// with probability aimShare to an armed element (a UDP one with a junk
// payload, as a packet user's would be), else a TCP SYN, a UDP
// datagram or an echo request (protocols, as the server's) to a random
// port or sequence number of p's range.
func floodPacket(rng *rand.Rand, v6 bool, dst netip.Addr, p derive.Params, targets *aims, aimShare float64, protos []derive.Proto) []byte {
	src := randomSource(rng, v6)
	k, aimed := derive.Knock{}, false
	if rng.Float64() < aimShare {
		k, aimed = targets.pick(rng)
	}
	if !aimed {
		k = derive.Knock{Proto: protos[rng.IntN(len(protos))], Port: uint16(int(p.PortMin) + rng.IntN(int(p.PortMax-p.PortMin)+1))}
	}
	if k.Proto != derive.UDP || !aimed {
		return packettest.Knock(src, dst, k)
	}
	junk := make([]byte, 48)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	l4 := packettest.UDP(40000+k.Port%20000, k.Port, junk)
	if v6 {
		return packettest.V6{Src: src, Dst: dst, Next: packettest.ProtoUDP}.Packet(l4)
	}
	return packettest.V4{Src: src, Dst: dst, Proto: packettest.ProtoUDP}.Packet(l4)
}

// checkFlood fails t when a flood left the server past its bounds (peak
// RSS, sources with a sequence in progress, the kernel's source sets)
// or granted flooding sources anything (foreign).
func checkFlood(t *testing.T, pk peaks, foreign []string) {
	t.Helper()
	if pk.rssKB > rssBound {
		t.Errorf("peak RSS %d MB under the flood, want at most %d MB", pk.rssKB/1024, rssBound/1024)
	}
	if pk.sources > matcher.DefaultMaxSources {
		t.Errorf("the daemon tracked %d sources at once, its bound is %d", pk.sources, matcher.DefaultMaxSources)
	}
	if pk.src4 > firewall.MaxTracked || pk.src6 > firewall.MaxTracked {
		t.Errorf("the kernel's source sets held %d and %d entries, their size is %d", pk.src4, pk.src6, firewall.MaxTracked)
	}
	if len(foreign) > 0 {
		t.Errorf("grants to flooding sources (grant set members, log lines):\n%s", strings.Join(foreign, "\n"))
	}
}
