package sender

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// loopbackUDP listens on a loopback address of network ("udp4" or
// "udp6") and returns the listener's address.
func loopbackUDP(t *testing.T, network string) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	host := map[string]string{"udp4": "127.0.0.1", "udp6": "[::1]"}[network]
	c, err := net.ListenPacket(network, host+":0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn), c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestPortableUDP sends UDP knocks with and without payload to a local
// listener, which must receive exactly one datagram each with exactly
// that payload, from a socket on the route's source address.
func TestPortableUDP(t *testing.T) {
	tests := []struct {
		name    string
		network string
		payload []byte
		write   bool // Write instead of WritePayload
	}{
		{name: "ipv4 empty", network: "udp4", write: true},
		{name: "ipv4 payload", network: "udp4", payload: []byte("otpknock\x00\xffpacket")},
		{name: "ipv6 payload", network: "udp6", payload: []byte{0xde, 0xad, 0xbe, 0xef}},
		{name: "ipv4-mapped destination", network: "udp4", payload: []byte("mapped")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, at := loopbackUDP(t, tt.network)
			dst := at.Addr()
			if strings.HasPrefix(tt.name, "ipv4-mapped") {
				dst = netip.AddrFrom16(dst.As16())
			}
			k := derive.Knock{Proto: derive.UDP, Port: at.Port()}
			var how string
			var err error
			if tt.write {
				how, err = (&Portable{}).Write(context.Background(), dst, k)
			} else {
				how, err = (&Portable{}).WritePayload(context.Background(), dst, k, tt.payload)
			}
			if err != nil || how != "udp socket" {
				t.Fatalf("write: how %q, err %v; want udp socket", how, err)
			}
			var got [][]byte
			buf := make([]byte, 2048)
			for {
				ln.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, from, err := ln.ReadFromUDPAddrPort(buf)
				if err != nil {
					break
				}
				if from.Addr().Unmap() != at.Addr() {
					t.Errorf("datagram from %v, want the loopback address %v", from, at.Addr())
				}
				got = append(got, append([]byte{}, buf[:n]...))
			}
			want := [][]byte{append([]byte{}, tt.payload...)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("datagrams received (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTCPPayloadRefused checks that a TCP knock never carries a payload,
// from every real PayloadWriter (sendertest checks its fake).
func TestTCPPayloadRefused(t *testing.T) {
	for name, w := range map[string]PayloadWriter{"portable": &Portable{}, "kernel": &Kernel{}} {
		t.Run(name, func(t *testing.T) {
			how, err := w.WritePayload(context.Background(), netip.MustParseAddr("127.0.0.1"), derive.Knock{Proto: derive.TCP, Port: 9}, []byte("x"))
			if !errors.Is(err, ErrProtoPayload) || how != "" {
				t.Errorf("how %q, err %v; want %v", how, err, ErrProtoPayload)
			}
		})
	}
}

// TestPortableUnknownProtocol checks that a knock of no known protocol
// is an error, not a silent success.
func TestPortableUnknownProtocol(t *testing.T) {
	_, err := (&Portable{}).Write(context.Background(), netip.MustParseAddr("127.0.0.1"), derive.Knock{Proto: 0, Port: 9})
	if err == nil || !strings.Contains(err.Error(), "unknown protocol") {
		t.Errorf("err = %v, want unknown protocol", err)
	}
}

// TestEchoRequest checks the echo request's bytes: type, code, sequence
// number = the knock's value, and data = the payload.
func TestEchoRequest(t *testing.T) {
	tests := []struct {
		name string
		dst  string
		seq  uint16
		data []byte
		typ  icmp.Type
		prot int
	}{
		{name: "ipv4 no data", dst: "198.18.0.1", seq: 40000, typ: ipv4.ICMPTypeEcho, prot: 1},
		{name: "ipv4 payload", dst: "198.18.0.1", seq: 7, data: []byte("mac\x00bytes"), typ: ipv4.ICMPTypeEcho, prot: 1},
		{name: "ipv6 payload", dst: "2001:2::1", seq: 65535, data: []byte{1, 2, 3}, typ: ipv6.ICMPTypeEchoRequest, prot: 58},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := echoRequest(netip.MustParseAddr(tt.dst), tt.seq, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			m, err := icmp.ParseMessage(tt.prot, b)
			if err != nil {
				t.Fatal(err)
			}
			e, ok := m.Body.(*icmp.Echo)
			if !ok || m.Type != tt.typ || m.Code != 0 {
				t.Fatalf("type %v code %d body %T; want %v code 0 echo", m.Type, m.Code, m.Body, tt.typ)
			}
			got := struct {
				Seq  int
				Data []byte
			}{e.Seq, e.Data}
			want := got
			want.Seq, want.Data = int(tt.seq), tt.data
			if len(want.Data) == 0 {
				want.Data = nil
			}
			if len(got.Data) == 0 {
				got.Data = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("echo (-want +got):\n%s", diff)
			}
			if e.ID != os.Getpid()&0xffff {
				t.Errorf("identifier %d, want the process id's low bits %d", e.ID, os.Getpid()&0xffff)
			}
		})
	}
}

// TestICMPNeeds checks that the error for every OS names its fix and the
// way around it.
func TestICMPNeeds(t *testing.T) {
	for goos, fix := range map[string]string{
		"linux":   "sysctl net.ipv4.ping_group_range",
		"darwin":  "run as root",
		"freebsd": "run as root",
		"windows": "run as administrator",
		"openbsd": "run as root",
	} {
		t.Run(goos, func(t *testing.T) {
			msg := icmpNeeds(goos)
			if !strings.Contains(msg, fix) || !strings.HasSuffix(msg, "; use a profile without icmp") || strings.Contains(msg, "\n") {
				t.Errorf("%q should name %q and end with the way around it", msg, fix)
			}
		})
	}
}

// TestRouteSource checks the source address of routes that exist on
// every machine: loopback, and an IPv4-mapped loopback destination.
func TestRouteSource(t *testing.T) {
	for _, tt := range []struct{ dst, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
	} {
		t.Run(tt.dst, func(t *testing.T) {
			got, err := RouteSource(netip.MustParseAddr(tt.dst))
			if err != nil {
				t.Fatal(err)
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Errorf("RouteSource(%s) = %v, want %s", tt.dst, got, tt.want)
			}
		})
	}
}

// TestWireEveryProtocol checks that every carrier of the protocol table
// has wire code, and that a payload is refused exactly where the table
// says the carrier carries none (refused before any socket is opened).
func TestWireEveryProtocol(t *testing.T) {
	for _, r := range derive.ProtoTable() {
		t.Run(r.Name, func(t *testing.T) {
			k := derive.Knock{Proto: r.Proto, Port: 9}
			p := &Portable{NoRaw: true}
			if how, send := p.wire(r.Proto); send == nil || how == "unknown protocol" {
				t.Errorf("no wire code: describe %q, send nil: %v", how, send == nil)
			}
			err := checkPayload(k)
			if refused := errors.Is(err, ErrProtoPayload); refused == r.Payload {
				t.Errorf("checkPayload(%v) = %v; table says payload %v", k, err, r.Payload)
			}
		})
	}
	if how, send := (&Portable{}).wire(0); send != nil || how != "unknown protocol" {
		t.Errorf("wire(0) = %q, send nil %v; want unknown protocol, nil", how, send == nil)
	}
}
