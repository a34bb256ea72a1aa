package listener

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/internal/packettest"
	"github.com/otpknock/otpknock/sender"
	"golang.org/x/sys/unix"
)

// TestNFLOGKernel logs the client's knocks with an iptables NFLOG rule
// in the server namespace and reads them with the listener: TCP, UDP and
// ICMP over IPv4 and IPv6, decoded exactly.
func TestNFLOGKernel(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	const group = 4711
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, m := range [][]string{{"-p", "tcp", "--syn"}, {"-p", "udp"}} {
			p.MustRun(t, p.Server, append(append([]string{ipt, "-A", "INPUT"}, m...), "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", "128")...)
		}
	}
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group))
	p.MustRun(t, p.Server, "ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", "echo-request", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group))

	src := openIn(t, p, group)
	var second *NFLOG
	var err error
	p.Do(t, p.Server, func() { second, err = Open(DefaultOptions(group)) })
	if err == nil {
		second.Close()
		t.Errorf("a second listener bound the same group")
	} else if !errors.Is(err, ErrGroupTaken) {
		t.Errorf("second bind: %v, want ErrGroupTaken", err)
	}

	got, stop := collect(src, srcKnock)

	knocks := []derive.Knock{{Proto: derive.TCP, Port: 23456}, {Proto: derive.UDP, Port: 40123}, {Proto: derive.ICMP, Port: 31337}}
	var want []string
	w := &sender.Kernel{}
	p.Do(t, p.Client, func() {
		for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
			srcAddr := map[bool]netip.Addr{true: p.ClientV4, false: p.ClientV6}[dst.Is4()]
			for _, k := range knocks {
				if _, err := w.Write(context.Background(), dst, k); err != nil {
					t.Errorf("sending %v to %v: %v", k, dst, err)
				}
				want = append(want, srcAddr.String()+" "+k.String())
			}
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(got()) < len(want) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything extra would show now
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	read := got()
	slices.Sort(read)
	slices.Sort(want)
	if !slices.Equal(read, want) {
		t.Errorf("listener got:\n%v\nwant:\n%v", read, want)
	}
	if st := src.Stats(); st.Lost != 0 || st.Malformed != 0 || st.Knocks != uint64(len(want)) {
		t.Errorf("stats %+v", st)
	}
}

// TestNFLOGKernelPayload logs packet knocks through NFLOG rules copying
// CopyRange bytes, as the firewall installs them: the largest payload
// arrives whole over UDP and ICMP, IPv4 and IPv6; a longer one arrives
// without its payload, counted as truncated.
func TestNFLOGKernelPayload(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	const group = 4712
	size := fmt.Sprint(CopyRange)
	for _, ipt := range []string{"iptables", "ip6tables"} {
		p.MustRun(t, p.Server, ipt, "-A", "INPUT", "-p", "udp", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", size)
	}
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", size)
	p.MustRun(t, p.Server, "ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", "echo-request", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", size)
	src := openIn(t, p, group)

	type sent struct {
		dst     netip.Addr
		k       derive.Knock
		payload []byte
	}
	largest, over := data(derive.MaxPayload), data(CopyRange)
	packets := []sent{
		{p.ServerV4, derive.Knock{Proto: derive.UDP, Port: 40123}, largest},
		{p.ServerV6, derive.Knock{Proto: derive.UDP, Port: 40124}, largest},
		{p.ServerV4, derive.Knock{Proto: derive.ICMP, Port: 31337}, largest},
		{p.ServerV6, derive.Knock{Proto: derive.ICMP, Port: 31338}, largest},
		{p.ServerV4, derive.Knock{Proto: derive.UDP, Port: 40125}, data(derive.MinPayload)},
		{p.ServerV6, derive.Knock{Proto: derive.UDP, Port: 40126}, over},
	}
	var want []string
	for _, s := range packets {
		if len(s.payload) > derive.MaxPayload {
			want = append(want, fmt.Sprintf("%v truncated", s.k))
			continue
		}
		want = append(want, fmt.Sprintf("%v %x", s.k, s.payload))
	}
	got, stop := collect(src, func(pk Packet) string {
		if pk.Truncated {
			return fmt.Sprintf("%v truncated", pk.Knock)
		}
		return fmt.Sprintf("%v %x", pk.Knock, pk.Payload) // a copy: Payload is valid only here
	})
	w := &sender.Portable{}
	p.Do(t, p.Client, func() {
		for _, s := range packets {
			if _, err := w.WritePayload(context.Background(), s.dst, s.k, s.payload); err != nil {
				t.Errorf("sending %v to %v: %v", s.k, s.dst, err)
			}
		}
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(got()) < len(want); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	read := got()
	slices.Sort(read)
	slices.Sort(want)
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("listener got (-want +got):\n%s", diff)
	}
	if st := src.Stats(); st.Truncated != 1 || st.Malformed != 0 || st.Knocks != uint64(len(want)) {
		t.Errorf("stats %+v, want %d knocks, 1 truncated", st, len(want))
	}
}

// TestNFLOGKernelBatches floods an NFLOG group with UDP datagrams: the
// listener asks the kernel to batch messages, the kernel accepts (fewer
// datagrams than messages arrive), and every packet is read.
func TestNFLOGKernelBatches(t *testing.T) {
	netnstest.Require(t, "iptables")
	p := netnstest.NewPair(t)
	const group, count = 4713, 3000
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "udp", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", fmt.Sprint(CopyRange))
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "udp", "-j", "DROP") // no port unreachable
	src := openIn(t, p, group)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx, func(Packet) {}) }()
	conn := dialUDP(t, p)
	payload := make([]byte, 32)
	for i := range count {
		if _, err := conn.Write(payload); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond) // about 10,000 a second: over busyRate, under what a reader loses
		}
	}
	for deadline := time.Now().Add(10 * time.Second); src.Stats().Messages+src.Stats().Lost < count && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := src.Stats()
	if st.Messages != count || st.Lost != 0 || st.Malformed != 0 {
		t.Errorf("stats %+v, want %d messages, none lost or malformed", st, count)
	}
	if st.Datagrams*2 > st.Messages {
		t.Errorf("%d datagrams for %d messages: the kernel did not batch", st.Datagrams, st.Messages)
	}
}

// srcKnock is a packet as "SRC KNOCK".
func srcKnock(pk Packet) string { return pk.Src.String() + " " + pk.Knock.String() }

// collect runs src, keeping line of each packet it reads: got returns
// those so far, stop ends the run and returns its error.
func collect(src *NFLOG, line func(Packet) string) (got func() []string, stop func() error) {
	var mu sync.Mutex
	var read []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(pk Packet) {
			mu.Lock()
			read = append(read, line(pk))
			mu.Unlock()
		})
	}()
	got = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(read)
	}
	return got, func() error {
		cancel()
		return <-done
	}
}

// openIn opens the NFLOG group in the pair's server namespace, closed
// when the test ends.
func openIn(tb testing.TB, p *netnstest.Pair, group uint16) *NFLOG {
	tb.Helper()
	var src *NFLOG
	var err error
	p.Do(tb, p.Server, func() { src, err = Open(DefaultOptions(group)) })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	return src
}

// dialUDP returns a UDP socket in the pair's client namespace, connected
// to the server's discard port, closed when the test ends.
func dialUDP(tb testing.TB, p *netnstest.Pair) *net.UDPConn {
	tb.Helper()
	var conn *net.UDPConn
	var err error
	p.Do(tb, p.Client, func() {
		conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ServerV4, 9)))
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// TestNFLOGKernelForged sends the listener an NFLOG packet message from
// another netlink socket in its namespace (root may: CAP_NET_ADMIN),
// then a real knock the kernel logs: the first is refused as forged,
// the second read.
func TestNFLOGKernelForged(t *testing.T) {
	netnstest.Require(t, "iptables")
	p := netnstest.NewPair(t)
	const group = 4714
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "udp", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", fmt.Sprint(CopyRange))
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "udp", "-j", "DROP")
	src := openIn(t, p, group)
	sa, err := unix.Getsockname(src.fd)
	if err != nil {
		t.Fatal(err)
	}
	to := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: sa.(*unix.SockaddrNetlink).Pid}
	got, stop := collect(src, srcKnock)
	p.Do(t, p.Server, func() {
		var fd int
		if fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER); err != nil {
			return
		}
		defer unix.Close(fd)
		forged := packettest.V4{Src: netip.MustParseAddr("198.18.0.9"), Dst: p.ServerV4, Proto: packettest.ProtoUDP}.Packet(udp(40001))
		err = unix.Sendto(fd, packetMsg(1, forged), 0, to)
	})
	if err != nil {
		t.Fatalf("sending the forged message: %v", err)
	}
	if _, err := dialUDP(t, p).Write([]byte("knock")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st := src.Stats(); st.Forged+st.Knocks >= 2 {
			break
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{p.ClientV4.String() + " udp/9"}
	if diff := cmp.Diff(want, got()); diff != "" {
		t.Errorf("knocks read (-want +got):\n%s", diff)
	}
	if st := src.Stats(); st.Forged != 1 || st.Knocks != 1 || st.Malformed != 0 {
		t.Errorf("stats %+v, want 1 forged datagram refused, 1 knock", st)
	}
}
