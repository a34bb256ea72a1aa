package sender

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// envHelper makes the test binary a knock sender instead of running
// tests: "sender.test DST PROTO/PORT[=HEXPAYLOAD]...". It prints its
// uid, the route's source to DST, then how each knock left.
const envHelper = "OTPKNOCK_SENDER_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		os.Exit(helperMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// helperMain sends the knocks of args through a Portable writer.
func helperMain(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: DST PROTO/PORT[=HEXPAYLOAD]...")
		return 2
	}
	dst, err := netip.ParseAddr(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	src, err := RouteSource(dst)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "uid %d\nroute %v\n", os.Getuid(), src)
	w := &Portable{}
	for _, a := range args[1:] {
		spec, payloadHex, withPayload := strings.Cut(a, "=")
		k, err := derive.ParseKnock(spec)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		var how string
		if withPayload {
			payload, _ := hex.DecodeString(payloadHex)
			how, err = w.WritePayload(context.Background(), dst, k, payload)
		} else {
			how, err = w.Write(context.Background(), dst, k)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%v (permission: %v)\n", err, errors.Is(err, os.ErrPermission))
			return 1
		}
		fmt.Fprintln(stdout, how)
	}
	return 0
}

// helperBinary copies this test binary where nobody may run it.
func helperBinary(t *testing.T) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "sender.test")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// asNobody runs the helper in the client namespace as nobody:nogroup.
func asNobody(p *netnstest.Pair, bin string, args ...string) *exec.Cmd {
	cmd := p.Cmd(p.Client, append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", bin}, args...)...)
	cmd.Env = append(os.Environ(), envHelper+"=1")
	return cmd
}

// TestPortableUnprivilegedOnTheWire runs the Portable writer as nobody in
// the client namespace, with ping sockets allowed for nogroup, and reads
// the server namespace's wire: each knock is exactly one packet (a bare
// SYN with no retransmission or RST within 2 s, one UDP datagram with the
// payload given, one echo request whose sequence number is the knock's
// value and whose data is the payload), over IPv4 and IPv6; RouteSource
// names the client's veth address and sends nothing.
func TestPortableUnprivilegedOnTheWire(t *testing.T) {
	netnstest.Require(t, "tcpdump", "setpriv", "iptables", "ip6tables", "sysctl")
	p := netnstest.NewPair(t)
	silenceServer(t, p)
	p.MustRun(t, p.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=65534 65534")
	bin := helperBinary(t)
	knocks := []string{"tcp/23456", "udp/34567=" + hex.EncodeToString([]byte("otpknock packet\x00\xff")), "udp/34568", "icmp/45678=6d6163", "icmp/4567", "tcp/1"}
	want := []string{"tcp SYN to 23456", "udp to 34567 payload 6f74706b6e6f636b207061636b657400ff", "udp to 34568 payload ",
		"echo request seq 45678 data 6d6163", "echo request seq 4567 data ", "tcp SYN to 1"}
	for _, fam := range []struct {
		name     string
		src, dst netip.Addr
	}{{"ipv4", p.ClientV4, p.ServerV4}, {"ipv6", p.ClientV6, p.ServerV6}} {
		t.Run(fam.name, func(t *testing.T) {
			c := p.StartHexCapture(t, p.Server, fmt.Sprintf("src host %s and (tcp or udp or icmp or (icmp6 and ip6[40] == 128))", fam.src))
			out, err := asNobody(p, bin, append([]string{fam.dst.String()}, knocks...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			wantOut := fmt.Sprintf("uid 65534\nroute %v\nconnect\nudp socket\nudp socket\nping socket\nping socket\nconnect\n", fam.src)
			if diff := cmp.Diff(wantOut, string(out)); diff != "" {
				t.Errorf("helper output (-want +got):\n%s", diff)
			}
			// Quiet for 2 s: Linux retransmits an unanswered SYN after 1 s.
			var got []string
			for _, pkt := range hexPackets(t, c.Stop(2*time.Second)) {
				got = append(got, describe(pkt))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("packets on the wire (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPortableNoPingSocket checks the error nobody gets for an ICMP
// knock when the system allows no ping sockets: it names the sysctl and
// the way around it, and is a permission error.
func TestPortableNoPingSocket(t *testing.T) {
	netnstest.Require(t, "setpriv", "sysctl")
	p := netnstest.NewPair(t)
	p.MustRun(t, p.Client, "sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0")
	bin := helperBinary(t)
	for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
		t.Run(dst.String(), func(t *testing.T) {
			var stdout, stderr strings.Builder
			cmd := asNobody(p, bin, dst.String(), "icmp/4567")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("helper: %v, want exit 1\n%s%s", err, stdout.String(), stderr.String())
			}
			msg := stderr.String()
			for _, part := range []string{"sysctl net.ipv4.ping_group_range", "use a profile without icmp", "(permission: true)"} {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not contain %q", msg, part)
				}
			}
		})
	}
}

// silenceServer drops TCP, UDP and echo requests in the server namespace,
// as the otpknock firewall does: no RST or reply can end a SYN-SENT
// socket that was left open, so a retransmission would show.
func silenceServer(t *testing.T, p *netnstest.Pair) {
	for _, r := range [][]string{
		{"iptables", "-p", "tcp"}, {"iptables", "-p", "udp"}, {"iptables", "-p", "icmp", "--icmp-type", "echo-request"},
		{"ip6tables", "-p", "tcp"}, {"ip6tables", "-p", "udp"}, {"ip6tables", "-p", "ipv6-icmp", "--icmpv6-type", "echo-request"},
	} {
		p.MustRun(t, p.Server, append(append([]string{r[0], "-A", "INPUT"}, r[1:]...), "-j", "DROP")...)
	}
}

// hexPackets reassembles the packets of a StartHexCapture's lines.
func hexPackets(t *testing.T, lines []string) [][]byte {
	t.Helper()
	var pkts [][]byte
	for _, l := range lines {
		if !strings.HasPrefix(l, "\t0x") {
			pkts = append(pkts, nil)
			continue
		}
		_, words, _ := strings.Cut(l, ":")
		b, err := hex.DecodeString(strings.Join(strings.Fields(words), ""))
		if err != nil || len(pkts) == 0 {
			t.Fatalf("unparsed tcpdump line %q", l)
		}
		pkts[len(pkts)-1] = append(pkts[len(pkts)-1], b...)
	}
	return pkts
}

// describe renders an IPv4 or IPv6 packet (no extension headers) as the
// knock it carries, with every byte the server could match on.
func describe(pkt []byte) string {
	if len(pkt) < 20 {
		return fmt.Sprintf("short packet % x", pkt)
	}
	proto, l4 := int(pkt[9]), pkt[int(pkt[0]&0x0f)*4:]
	if pkt[0]>>4 == 6 {
		proto, l4 = int(pkt[6]), pkt[40:]
	}
	switch {
	case proto == 6 && len(l4) >= 20:
		dport, flags, data := binary.BigEndian.Uint16(l4[2:]), l4[13], l4[int(l4[12]>>4)*4:]
		if flags == 0x02 && len(data) == 0 {
			return "tcp SYN to " + strconv.Itoa(int(dport))
		}
		return fmt.Sprintf("tcp flags %#02x to %d with %d bytes", flags, dport, len(data))
	case proto == 17 && len(l4) >= 8:
		return fmt.Sprintf("udp to %d payload %x", binary.BigEndian.Uint16(l4[2:]), l4[8:])
	case (proto == 1 && l4[0] == 8 || proto == 58 && l4[0] == 128) && l4[1] == 0 && len(l4) >= 8:
		return fmt.Sprintf("echo request seq %d data %x", binary.BigEndian.Uint16(l4[6:]), l4[8:])
	}
	return fmt.Sprintf("protocol %d % x", proto, l4)
}
