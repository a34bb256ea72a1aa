package sender

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/otpknock/otpknock/derive"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// echo sends an ICMP or ICMPv6 echo request whose sequence number is seq
// and whose data is data, through a ping socket, else a raw socket
// unless noRaw. The identifier is the process id's low 16 bits; a Linux
// ping socket replaces it with its own port, which does not matter: the
// server matches the sequence number only.
func echo(dst netip.Addr, seq uint16, data []byte, noRaw bool) (string, error) {
	ping, raw, wildcard := "udp4", "ip4:icmp", "0.0.0.0"
	if dst.Is6() {
		ping, raw, wildcard = "udp6", "ip6:ipv6-icmp", "::"
	}
	how := "ping socket"
	c, err := icmp.ListenPacket(ping, wildcard)
	if err != nil && !noRaw {
		how = "raw socket"
		c, err = icmp.ListenPacket(raw, wildcard)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w (%v)", icmpNeeds(runtime.GOOS), os.ErrPermission, err)
	}
	defer c.Close()
	b, err := echoRequest(dst, seq, data)
	if err != nil {
		return "", err
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if how == "raw socket" {
		to = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	if _, err := c.WriteTo(b, to); err != nil {
		return "", sysErr("icmp send", err)
	}
	return how, nil
}

// echoRequest marshals an ICMP (IPv4 dst) or ICMPv6 echo request, of
// the type the protocol table gives. The ICMPv6 checksum is left to the
// kernel, which computes it over the pseudo-header.
func echoRequest(dst netip.Addr, seq uint16, data []byte) ([]byte, error) {
	r, _ := derive.ICMP.Info()
	var typ icmp.Type = ipv4.ICMPType(r.Echo4)
	if dst.Is6() {
		typ = ipv6.ICMPType(r.Echo6)
	}
	return (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: int(seq), Data: data}}).Marshal(nil)
}

// icmpNeeds says, for one GOOS, what an ICMP knock needs and how to do
// without it.
func icmpNeeds(goos string) string {
	const without = "; use a profile without icmp"
	switch goos {
	case "linux":
		return "icmp knock needs a ping socket (allow your group in sysctl net.ipv4.ping_group_range) or a raw socket (root or CAP_NET_RAW)" + without
	case "darwin":
		return "icmp knock needs an ICMP datagram socket or a raw socket (run as root)" + without
	case "freebsd":
		return "icmp knock needs a raw socket on freebsd, which has no unprivileged ICMP sockets (run as root)" + without
	case "windows":
		return "icmp knock needs a raw socket on windows, whose ICMP API chooses the echo sequence number itself (run as administrator)" + without
	}
	return "icmp knock needs a raw socket (run as root)" + without
}
