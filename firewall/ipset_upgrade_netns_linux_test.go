package firewall

import (
	"encoding/binary"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"golang.org/x/sys/unix"
)

// TestSourceSetUpgradeNetns: source sets an earlier otpknockd left
// (ipset's default hash size, 1,024) are replaced by Setup, before its
// rules exist and while its rules reference them; the heal check
// (Verify) names them; and a replaced set holds more sources added by
// the kernel's packet path (the SET target of an armed knock) than the
// old one could, 24,576 at most.
func TestSourceSetUpgradeNetns(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables", "ipset")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Filter, plan.Track = true, 2*time.Minute
	small := func(name, fam string) {
		p.MustRun(t, p.Server, "ipset", "create", name, "hash:ip", "family", fam, "hashsize", "1024",
			"maxelem", strconv.Itoa(MaxTracked), "timeout", strconv.Itoa(filterTimeout), "forceadd")
	}
	// An earlier otpknockd's sets, its rules not installed yet.
	small(FilterSrc4, "inet")
	small(FilterSrc6, "inet6")
	k := iptablesIn(t, p, plan)
	assertSources(t, p, "after Setup over unreferenced small sets")

	// An earlier otpknockd's sets under its rules: swapped in by hand,
	// with sources in them.
	for _, s := range []struct{ name, fam string }{{FilterSrc4, "inet"}, {FilterSrc6, "inet6"}} {
		small("old", s.fam)
		p.MustRun(t, p.Server, "ipset", "swap", s.name, "old")
		p.MustRun(t, p.Server, "ipset", "destroy", "old")
	}
	p.MustRun(t, p.Server, "ipset", "add", FilterSrc6, "2001:2::9")
	if h := header(t, p, FilterSrc6); h["hashsize"] != 1024 || h["References"] == 0 {
		t.Fatalf("the hand-made old set: %v, want hash size 1024 and referenced", h)
	}
	var err error
	p.Do(t, p.Server, func() {
		err = k.Arm([]Element{{Knock: derive.Knock{Proto: derive.UDP, Port: 40000}, TTL: 2 * time.Minute}})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The old set fills from the packet path at its hash's capacity.
	sendSources(t, p, 0, 20000)
	t.Logf("the old set after 20,000 sources by the packet path: %v", header(t, p, FilterSrc6))

	var missing []string
	p.Do(t, p.Server, func() { missing, err = k.Verify(plan) })
	want := []string{"ipset: set otpknock-src4: hash size 1024, want 32768", "ipset: set otpknock-src6: hash size 1024, want 32768"}
	if err != nil || strings.Join(missing, "\n") != strings.Join(want, "\n") {
		t.Errorf("Verify over the old sets = %q, %v; want %q", missing, err, want)
	}
	p.Do(t, p.Server, func() { err = k.Setup(plan) })
	if err != nil {
		t.Fatalf("Setup over the old referenced sets: %v", err)
	}
	assertSources(t, p, "after Setup over referenced small sets")
	p.Do(t, p.Server, func() { missing, err = k.Verify(plan) })
	if err != nil || missing != nil {
		t.Errorf("Verify after the repair = %q, %v", missing, err)
	}
	if out := p.MustRun(t, p.Server, "ipset", "list", FilterSrc6); strings.Contains(out, "2001:2::9") {
		t.Errorf("the old set's entries are in the new one:\n%s", out)
	}

	// The new set takes 40,000 new sources from the packet path.
	sendSources(t, p, 20000, 60000)
	h := header(t, p, FilterSrc6)
	t.Logf("the new set after 40,000 sources by the packet path: %v", h)
	if h["Number of entries"] <= 24576 {
		t.Errorf("the new set holds %d of 40,000 sources added by the packet path, want more than 24,576: %v", h["Number of entries"], h)
	}
}

// assertSources checks the source sets in the server: hash size
// sourceHashSize, referenced by the rules that match them, and no
// replacement left.
func assertSources(t *testing.T, p *netnstest.Pair, when string) {
	t.Helper()
	for _, s := range []struct{ name, ipt string }{{FilterSrc4, "iptables"}, {FilterSrc6, "ip6tables"}} {
		h := header(t, p, s.name)
		if h["hashsize"] != sourceHashSize || h["maxelem"] != MaxTracked || h["References"] != 4 {
			t.Errorf("%s: %s: %v, want hash size %d, maxelem %d, 4 references (2 matches, 2 SET targets)", when, s.name, h, sourceHashSize, MaxTracked)
		}
		if rules := p.MustRun(t, p.Server, s.ipt, "-S", Chain); strings.Count(rules, "--match-set "+s.name+" src") != 2 ||
			strings.Count(rules, "--add-set "+s.name+" src") != 2 {
			t.Errorf("%s: %s rules do not match %s:\n%s", when, s.ipt, s.name, rules)
		}
	}
	if names := p.MustRun(t, p.Server, "ipset", "list", "-n"); strings.Contains(names, "-new") {
		t.Errorf("%s: a replacement set left:\n%s", when, names)
	}
}

// header reads the numbers of ipset list -t: the header's parameters
// (hashsize, maxelem, ...), References and Number of entries.
func header(t *testing.T, p *netnstest.Pair, name string) map[string]int {
	t.Helper()
	out := p.MustRun(t, p.Server, "ipset", "list", "-t", name)
	h := map[string]int{}
	for _, m := range regexp.MustCompile(`(hashsize|maxelem|References|Number of entries):? (\d+)`).FindAllStringSubmatch(out, -1) {
		h[m[1]], _ = strconv.Atoi(m[2])
	}
	return h
}

// sendSources sends a UDP datagram to the server's armed port 40000
// from each source 2001:2:ffff::N, N in [from, to), through a raw
// socket of the client namespace, paced so that the veth's backlog
// keeps them.
func sendSources(t *testing.T, p *netnstest.Pair, from, to int) {
	t.Helper()
	var fd int
	var err error
	p.Do(t, p.Client, func() { fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_RAW) })
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dst := p.ServerV6.As16()
	to6 := &unix.SockaddrInet6{Addr: dst}
	for n := from; n < to; n++ {
		var a [16]byte
		copy(a[:], []byte{0x20, 0x01, 0, 2, 0xff, 0xff})
		binary.BigEndian.PutUint32(a[12:], uint32(n))
		if err := unix.Sendto(fd, udp6(netip.AddrFrom16(a), p.ServerV6, 40000), 0, to6); err != nil {
			t.Fatal(err)
		}
		if n%200 == 199 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond)
}

// udp6 is an IPv6 packet holding a UDP datagram of 4 bytes from src
// port 40001 to dst port, with its checksum.
func udp6(src, dst netip.Addr, port uint16) []byte {
	b := make([]byte, 40+8+4)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], 12) // payload length
	b[6], b[7] = unix.IPPROTO_UDP, 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	u := b[40:]
	binary.BigEndian.PutUint16(u[0:], 40001)
	binary.BigEndian.PutUint16(u[2:], port)
	binary.BigEndian.PutUint16(u[4:], 12)
	copy(u[8:], "knck")
	// the pseudo-header (addresses, length, next header) and the datagram
	sum := uint32(12 + unix.IPPROTO_UDP)
	for i := 8; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(u[6:], ^uint16(sum))
	return b
}
