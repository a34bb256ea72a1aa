//go:build linux

package attack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/internal/packettest"
	"golang.org/x/sys/unix"
)

// newPacketArena is newArena with n packet users, p0..p<n-1>, each
// opening tcp/2222 and tcp/3000+i, the last one source-bound (so
// knockRounds and control work unchanged). The protocols are tcp, udp
// and icmp: the elements are UDP ports and echo sequence numbers.
func newPacketArena(t *testing.T, n int) *arena {
	a := newArena(t, 0, func(s string) string {
		return strings.Replace(s, "protocols: [tcp, udp]", "protocols: [tcp, udp, icmp]", 1)
	})
	a.addPacketUsers(n, 3000)
	return a
}

// addPacketUsers stops the server, adds n packet users, p0..p<n-1>,
// each opening tcp/2222 and tcp/port+i (listened on), the last one
// source-bound, imports them as client profiles, and starts the server
// again with them among a.users.
func (a *arena) addPacketUsers(n, port int) {
	t := a.t
	t.Helper()
	a.kill()
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		args := []string{"user", "add", name, "-c", a.cfg.Path, "--knock", "packet", "--open", fmt.Sprintf("tcp/2222,tcp/%d", port+i), "--no-qr"}
		if i == n-1 {
			args = append(args, "--bind-source")
		}
		uri := regexp.MustCompile(`otpauth://\S+`).FindString(a.run("", args...))
		if !strings.Contains(uri, "knock=packet") {
			t.Fatalf("user add --knock packet gave no packet URI: %q", uri)
		}
		cmd := exec.Command(bin, "import", "-", "--name", name)
		cmd.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+a.store)
		cmd.Stdin = strings.NewReader(uri)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
	}
	var err error
	if a.cfg, err = config.Load(a.cfg.Path); err != nil {
		t.Fatal(err)
	}
	a.users = nil
	for _, u := range a.cfg.Users {
		s, err := a.cfg.ReadSecret(u.Name)
		if err != nil {
			t.Fatal(err)
		}
		a.users = append(a.users, user{u.Name, s})
	}
	for i := range n {
		go netnstest.AcceptAll(a.l.Listen(t, a.l.Server, "tcp", fmt.Sprintf("[::]:%d", port+i)))
	}
	a.start()
}

// element is u's packet element of step.
func (a *arena) element(u user, step uint64) derive.Knock {
	a.t.Helper()
	pd, err := derive.NewPacket(u.secret, a.cfg.ServerID, a.cfg.Params)
	if err != nil {
		a.t.Fatal(err)
	}
	k, err := pd.Knock(step)
	if err != nil {
		a.t.Fatal(err)
	}
	return k
}

// seal is u's payload of step claiming addrs, with a random nonce.
func (a *arena) seal(u user, step uint64, claim derive.Claim, bound netip.Addr, size int) []byte {
	a.t.Helper()
	pd, err := derive.NewPacket(u.secret, a.cfg.ServerID, a.cfg.Params)
	if err != nil {
		a.t.Fatal(err)
	}
	nonce := make([]byte, derive.NonceSize)
	for i := range nonce {
		nonce[i] = byte(rand.Uint32())
	}
	p, err := pd.Seal(nil, step, nonce, claim, bound, size)
	if err != nil {
		a.t.Fatal(err)
	}
	return p
}

// stopStats stops the server with SIGTERM and returns the counters of
// its "stopped" line (packets, lost, malformed, packet_grants,
// bad_payloads, truncated...).
func (a *arena) stopStats() map[string]int {
	a.t.Helper()
	a.server.Process.Signal(syscall.SIGTERM)
	a.server.Wait()
	line := regexp.MustCompile(`msg=stopped .*`).FindString(a.log.String())
	if line == "" {
		a.t.Fatalf("the server did not stop cleanly:\n%s", a.log)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(\w+)=(\d+)`).FindAllStringSubmatch(line, -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// payloadKnock is the IPv4 packet carrying payload to element k: a UDP
// datagram to the port, or an ICMP echo request with the element as
// its sequence number and the payload as its data.
func payloadKnock(src, dst netip.Addr, k derive.Knock, payload []byte) []byte {
	switch k.Proto {
	case derive.ICMP:
		return packettest.V4{Src: src, Dst: dst, Proto: packettest.ProtoICMP}.Packet(append(packettest.Echo(8, k.Port), payload...))
	case derive.TCP:
		return packettest.Knock(src, dst, k)
	}
	return packettest.V4{Src: src, Dst: dst, Proto: packettest.ProtoUDP}.Packet(packettest.UDP(40000+k.Port%20000, k.Port, payload))
}

// resendFrom is a captured IPv4 UDP or ICMP packet sent again from src:
// same destination, ports or echo header, and payload; new checksums.
func resendFrom(b []byte, src netip.Addr) []byte {
	ihl := int(b[0]&0x0f) * 4
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	l4 := append([]byte(nil), b[ihl:]...)
	return packettest.V4{Src: src, Dst: dst, Proto: b[9]}.Packet(l4)
}

// tap captures the IPv4 packets the router receives on its LAN bridge:
// the attacker on the path, who sees the client's packets before the
// server does (and before the router's FORWARD rules).
type tap struct {
	t  *testing.T
	fd int
}

func openTap(t *testing.T, a *arena) *tap {
	proto := int(binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, unix.ETH_P_IP))) // network byte order
	var fd int
	var err error
	a.l.Do(t, a.l.Router, func() {
		var ifi *net.Interface
		if ifi, err = net.InterfaceByName("lan"); err != nil {
			return
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, proto); err != nil {
			return
		}
		err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index})
	})
	if err != nil {
		t.Fatalf("capture socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &tap{t: t, fd: fd}
}

// grab reads what was captured until the socket stays quiet for 50 ms,
// and returns the UDP datagrams and ICMP echo requests from src.
func (tp *tap) grab(src netip.Addr) [][]byte {
	var out [][]byte
	buf := make([]byte, 2048)
	for {
		n, _, err := unix.Recvfrom(tp.fd, buf, 0)
		if err != nil {
			return out
		}
		b := buf[:n]
		if n < 28 || b[0]>>4 != 4 || netip.AddrFrom4([4]byte(b[12:16])) != src {
			continue
		}
		ihl := int(b[0]&0x0f) * 4
		if b[9] == packettest.ProtoUDP || (b[9] == packettest.ProtoICMP && b[ihl] == 8) {
			out = append(out, append([]byte(nil), b...))
		}
	}
}

// packetRE matches a packet line of send -v: "packet 1 udp/31337 -> ...".
var packetRE = regexp.MustCompile(`packet (\d+) (\S+) -> \S+ \(step (\d+), (\d+)-byte payload`)

// sentPackets returns the element, step and count of the packets of a
// send -v output.
func sentPackets(out string) (derive.Knock, uint64, int) {
	m := packetRE.FindAllStringSubmatch(out, -1)
	if m == nil {
		return derive.Knock{}, 0, 0
	}
	k, _ := derive.ParseKnock(m[0][2])
	step, _ := strconv.ParseUint(m[0][3], 10, 64)
	return k, step, len(m)
}

// TestPacketArena checks the harness of the packet tests and dual
// stack with the real client: p0 knocks (one packet over UDP or ICMP,
// to its element), the server logs a packet grant and the tap sees the
// packet with its payload; then p1 knocks over IPv4 with --public-ip
// naming the client's IPv6 address, and its service answers over IPv6,
// closed there before. (cmd/otpknock's TestPacketDualStack checks the
// same with a hand-sealed claim of both route sources.)
func TestPacketArena(t *testing.T) {
	a := newPacketArena(t, 3)
	tp := openTap(t, a)
	tp.grab(a.l.ClientV4)
	a.waitFreshStep(time.Second)
	ok, out := a.send(a.l.Client, "p0", "--retries", "0")
	k, step, n := sentPackets(out)
	// A resend after 300 ms is allowed: this machine is shared.
	if !ok || n < 1 {
		t.Fatalf("p0's knock: opened %v, %d packets, want a packet that opens:\n%s", ok, n, out)
	}
	if want := a.element(a.users[0], step); k != want {
		t.Errorf("the client sent to %v, the element of step %d is %v", k, step, want)
	}
	if !a.waitLog(fmt.Sprintf("msg=grant src=%s user=p0 step=%d ports=tcp/2222,tcp/3000 knock=packet", a.l.ClientV4, step), time.Second) {
		t.Errorf("no packet grant logged:\n%s", a.log)
	}
	got := tp.grab(a.l.ClientV4)
	if len(got) != n || len(got[0]) < 20+8+derive.PayloadMin {
		t.Fatalf("captured %d packets from the client, want the %d it sent, carrying a payload", len(got), n)
	}

	v6 := netip.AddrPortFrom(a.l.ServerV6, 3001)
	if a.dial(v6) {
		t.Fatalf("p1's service answers over IPv6 before any knock")
	}
	ok, out = a.send(a.l.Client, "p1", "--retries", "0", "-4", "--public-ip", a.l.ClientV6.String(), "--wait=tcp/3001,1s")
	if !ok {
		t.Fatalf("p1's knock over IPv4 failed:\n%s", out)
	}
	opened6 := a.dial(v6)
	figure(t, "packet mode, dual stack: one packet over IPv4 claiming the client's IPv6 address", "IPv6 service answered: %v", opened6)
	if !opened6 {
		t.Errorf("one packet over IPv4 claiming %v did not open the service over IPv6:\n%s\nserver:\n%s", a.l.ClientV6, out, a.log)
	}
	if !a.waitLog("addrs=198.18.2.2,2001:2:2::2 ", time.Second) {
		t.Errorf("the grant does not name both addresses:\n%s", a.log)
	}
}

// dial reports whether a TCP connect from the client to dst succeeds.
func (a *arena) dial(dst netip.AddrPort) bool {
	var err error
	a.l.Do(a.t, a.l.Client, func() {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", dst.String(), 300*time.Millisecond); err == nil {
			c.Close()
		}
	})
	return err == nil
}
