//go:build linux

package attack

import (
	"encoding/binary"
	"net/netip"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/packettest"
	"golang.org/x/sys/unix"
)

// malformed4 returns odd IPv4 packets from src to dst: truncated and
// inconsistent headers, options, fragments and odd transport headers.
func malformed4(src, dst netip.Addr) map[string][]byte {
	udp := packettest.Knock(src, dst, derive.Knock{Proto: derive.UDP, Port: 30000})
	syn := packettest.Knock(src, dst, derive.Knock{Proto: derive.TCP, Port: 30001})
	fix := func(b []byte) []byte { // recompute the IPv4 header checksum
		b[10], b[11] = 0, 0
		ihl := int(b[0]&0x0f) * 4
		if ihl > len(b) {
			ihl = len(b) &^ 1
		}
		binary.BigEndian.PutUint16(b[10:], packettest.Checksum(b[:ihl]))
		return b
	}
	clone := func(b []byte) []byte { return append([]byte(nil), b...) }
	out := map[string][]byte{}
	b := clone(udp)
	out["truncated UDP header"] = fix(append(b[:20:20], b[20:24]...))
	b = clone(syn)
	b[32] = 2 << 4 // TCP data offset 2 (< 5)
	out["TCP data offset below 5"] = fix(b)
	b = append(append(clone(udp[:20]), 1, 1, 1, 0), udp[20:]...) // three NOPs and EOL
	b[0] = 0x46
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	out["IP options"] = fix(b)
	b = clone(udp)
	binary.BigEndian.PutUint16(b[6:], 0x2000) // more fragments, offset 0
	out["first fragment"] = fix(b)
	b = clone(udp)
	binary.BigEndian.PutUint16(b[6:], 0x0003) // a later fragment
	out["non-first fragment"] = fix(b)
	b = clone(udp)
	b[0] = 0x4f // IHL 60 bytes, packet shorter
	out["IHL beyond the packet"] = fix(b)
	b = clone(syn)
	b[33] = 0xff // every TCP flag
	out["TCP with every flag"] = fix(b)
	b = clone(udp)
	binary.BigEndian.PutUint16(b[2:], 1500) // total length beyond the data
	out["total length beyond the data"] = fix(b)
	return out
}

// malformed6 returns odd IPv6 packets: long and endless extension header
// chains, fragments and truncated transport headers.
func malformed6(src, dst netip.Addr) map[string][]byte {
	pkt := func(next byte, payload []byte) []byte {
		return packettest.V6{Src: src, Dst: dst, Next: next}.Packet(payload)
	}
	ext := func(next byte) []byte { return packettest.Ext(next, 8) }
	udp := packettest.UDP(40000, 30000, nil)
	chain := func(n int, last byte, tail []byte) []byte {
		var p []byte
		for i := 0; i < n; i++ {
			next := byte(60)
			if i == n-1 {
				next = last
			}
			p = append(p, ext(next)...)
		}
		return pkt(60, append(p, tail...))
	}
	frag := append([]byte{17, 0, 0, 1, 0, 0, 0, 1}, udp...) // fragment header, offset 0, M set
	return map[string][]byte{
		"hop-by-hop, routing, destination options, UDP": pkt(0, append(append(append([]byte{43, 0, 1, 4, 0, 0, 0, 0}, 60, 0, 0, 0, 0, 0, 0, 0), ext(17)...), udp...)),
		"twelve destination options headers":            chain(12, 17, udp),
		"chain ending in no next header":                chain(3, 59, nil),
		"first fragment of UDP":                         pkt(44, frag),
		"truncated UDP after options":                   chain(2, 17, udp[:3]),
		"ESP":                                           pkt(50, make([]byte, 16)),
	}
}

// TestMalformedLive sends malformed IPv4 and IPv6 packets to the knock
// range from the attacker: the server must stay up, keep counting, and
// still open for a legitimate knock.
func TestMalformedLive(t *testing.T) {
	a := newArena(t, 3, nil)
	l := a.l
	r4 := openRaw(t, l, l.Attacker)
	var fd6 int
	var err error
	l.Do(t, l.Attacker, func() { fd6, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW) })
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd6)
	att6, srv6 := netip.MustParseAddr("2001:2:2::66"), netip.MustParseAddr("2001:2:1::1")
	rounds := scale(20, 1000)
	sent := 0
	for range rounds {
		for _, p := range malformed4(l.AttackerV4, l.ServerV4) {
			if r4.packet(p) == nil {
				sent++
			}
		}
		for _, p := range malformed6(att6, srv6) {
			if unix.Sendto(fd6, p, 0, &unix.SockaddrInet6{Addr: srv6.As16()}) == nil {
				sent++
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	if a.server.ProcessState != nil {
		t.Fatalf("the server died:\n%s", a.log)
	}
	a.nextStep()
	if ok := a.knockRounds(l.Client, l.ClientV4.String(), 2, "--retries", "0"); ok != 2 {
		t.Errorf("after malformed packets %d of 2 knocks opened", ok)
	}
	a.server.Process.Signal(syscall.SIGTERM)
	a.server.Wait()
	stop := regexp.MustCompile(`msg=stopped packets=(\d+) knocks=(\d+) lost=(\d+) malformed=(\d+)`).FindStringSubmatch(a.log.String())
	if stop == nil {
		t.Fatalf("no clean stop:\n%s", a.log)
	}
	malformed, _ := strconv.Atoi(stop[4])
	figure(t, "malformed packets sent live (IPv4 and IPv6 kinds: 14)", "sent %d, server up, %d reached it and were dropped as malformed, 0 crashes, legitimate knocks still open", sent, malformed)
}
