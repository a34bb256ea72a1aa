package firewall_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/sender"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TestContractNetns holds both backends, in a server network namespace
// with knocks and connections from a client namespace, to the
// contract: what the kernel accepts, drops and logs.
func TestContractNetns(t *testing.T) {
	for _, tt := range []struct {
		kind  string
		tools []string
		kernel
	}{
		{firewall.ModeIPTables, []string{"iptables", "ip6tables", "ipset"}, iptablesKernel()},
		{firewall.ModeNFTables, []string{"nft"}, nftKernel()},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			netnstest.Require(t, tt.tools...)
			firewalltest.Contract(t, func(t *testing.T) *firewalltest.Subject {
				return netnsSubject(t, tt.kind, tt.kernel)
			})
		})
	}
}

// kernel is how a backend's objects are read and broken with its own
// tools, in the pair's server namespace.
type kernel struct {
	snapshot func(t *testing.T, p *netnstest.Pair) string
	flush    func(t *testing.T, p *netnstest.Pair)
	left     func(t *testing.T, p *netnstest.Pair) []string
}

// iptablesKernel reads and flushes with iptables, ip6tables and ipset.
func iptablesKernel() kernel {
	return kernel{
		snapshot: func(t *testing.T, p *netnstest.Pair) string {
			return p.MustRun(t, p.Server, "iptables", "-S") + p.MustRun(t, p.Server, "ip6tables", "-S") + p.MustRun(t, p.Server, "ipset", "list", "-n")
		},
		flush: func(t *testing.T, p *netnstest.Pair) {
			p.MustRun(t, p.Server, "iptables", "-F", "INPUT")
			p.MustRun(t, p.Server, "ip6tables", "-F", "INPUT")
		},
		left: func(t *testing.T, p *netnstest.Pair) []string {
			return firewall.LinesWith(p.MustRun(t, p.Server, "iptables", "-S")+p.MustRun(t, p.Server, "ip6tables", "-S")+p.MustRun(t, p.Server, "ipset", "list", "-n"), "otpknock")
		},
	}
}

// nftKernel reads and flushes with nft.
func nftKernel() kernel {
	return kernel{
		snapshot: func(t *testing.T, p *netnstest.Pair) string {
			return p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", firewall.NFTTable)
		},
		flush: func(t *testing.T, p *netnstest.Pair) { p.MustRun(t, p.Server, "nft", "flush", "ruleset") },
		left: func(t *testing.T, p *netnstest.Pair) []string {
			return firewall.LinesWith(p.MustRun(t, p.Server, "nft", "list", "tables"), "otpknock")
		},
	}
}

// netnsSubject opens the backend of kind in a new pair's server
// namespace, with an echo server on each protected TCP port.
func netnsSubject(t *testing.T, kind string, k kernel) *firewalltest.Subject {
	p := netnstest.NewPair(t)
	var b firewall.Backend
	var err error
	p.Do(t, p.Server, func() { b, err = firewall.KindOf(kind).Open() })
	if err != nil {
		t.Fatal(err)
	}
	plan := firewalltest.Plan()
	for _, svc := range plan.Protected {
		if svc.Proto == derive.TCP {
			go firewall.Echo(p.Listen(t, p.Server, "tcp", "[::]:"+strconv.Itoa(int(svc.Port))))
		}
	}
	dial := func(t *testing.T, src netip.Addr, svc derive.Knock) (net.Conn, error) {
		dst := p.ServerV4
		if src.Is6() {
			dst = p.ServerV6
		}
		var c net.Conn
		var err error
		p.Do(t, p.Client, func() {
			d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
			c, err = d.Dial("tcp", netip.AddrPortFrom(dst, svc.Port).String())
		})
		return c, err
	}
	near4, far4 := netip.MustParseAddr("198.18.0.77"), netip.MustParseAddr("198.18.0.200")
	near6, far6 := netip.MustParseAddr("2001:2::77"), netip.MustParseAddr("2001:2::1:2")
	// Deprecated (preferred_lft 0): the kernel never picks them as a
	// source; only the prefix case binds to them.
	for _, a := range []netip.Addr{near4, far4, near6, far6} {
		p.MustRun(t, p.Client, "ip", "addr", "add", firewall.HostPrefix(a).String(), "dev", "veth0", "nodad", "preferred_lft", "0")
	}
	lab := &nflogLab{p: p, group: plan.Group}
	return &firewalltest.Subject{
		Backend:   b,
		Do:        func(fn func()) { p.Do(t, p.Server, fn) },
		Wait:      time.Sleep,
		Src4:      p.ClientV4,
		Src6:      p.ClientV6,
		DataPlane: true,
		Prefix4:   netip.MustParsePrefix("198.18.0.0/25"),
		Prefix6:   netip.MustParsePrefix("2001:2::/112"),
		Near4:     near4, Near6: near6, Far4: far4, Far6: far6,
		Snapshot: func(t *testing.T) string { return k.snapshot(t, p) },
		Flush:    func(t *testing.T) { k.flush(t, p) },
		Left:     func(t *testing.T) []string { return k.left(t, p) },
		Reaches: func(t *testing.T, src netip.Addr, svc derive.Knock) bool {
			c, err := dial(t, src, svc)
			if err == nil {
				c.Close()
			}
			return err == nil
		},
		Hold: func(t *testing.T, src netip.Addr, svc derive.Knock) func() bool {
			c, err := dial(t, src, svc)
			if err != nil {
				t.Fatalf("holding a session from %v to %v: %v", src, svc, err)
			}
			t.Cleanup(func() { c.Close() })
			return func() bool {
				buf := make([]byte, 11)
				c.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write([]byte("still here\n")); err != nil {
					return false
				}
				_, err := io.ReadFull(c, buf)
				return err == nil && string(buf) == "still here\n"
			}
		},
		Logs: lab.logs,
		Pings: func(t *testing.T, src netip.Addr, seq uint16) bool {
			var ok bool
			p.Do(t, p.Client, func() { ok = ping(t, src, p.ServerV4, p.ServerV6, seq) })
			return ok
		},
	}
}

// ping sends one echo request from src to the server's address of its
// family with sequence number seq, over a raw socket, and reports
// whether its reply came within 500 ms.
func ping(t *testing.T, src, dst4, dst6 netip.Addr, seq uint16) bool {
	network, dst, typ, reply := "ip4:icmp", dst4, icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply)
	proto := 1
	if src.Is6() {
		network, dst, typ, reply, proto = "ip6:ipv6-icmp", dst6, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	c, err := icmp.ListenPacket(network, src.String())
	if err != nil {
		t.Fatalf("ping socket: %v", err)
	}
	defer c.Close()
	id := int(time.Now().UnixNano()>>10) & 0xffff // a new ID: no conntrack entry of an earlier ping
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: int(seq), Data: []byte("contract ping")}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		t.Fatalf("ping from %v: %v", src, err)
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.Seq == int(seq) && e.ID == id {
			return true
		}
	}
}

// nflogLab sends knocks from the pair's client namespace and reads what
// the server namespace logs to NFLOG group, from the first knock on.
type nflogLab struct {
	p     *netnstest.Pair
	group uint16
	w     sender.Kernel
	once  sync.Once
	mu    sync.Mutex
	got   []string
}

// start reads the group in the server namespace until the test ends.
func (l *nflogLab) start(t *testing.T) {
	var src *listener.NFLOG
	var err error
	l.p.Do(t, l.p.Server, func() { src, err = listener.Open(listener.DefaultOptions(l.group)) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(pk listener.Packet) {
			l.mu.Lock()
			l.got = append(l.got, pk.Src.String()+" "+pk.Knock.String())
			l.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		src.Close()
	})
}

// logs sends k from src (a client address) to the server's address of
// its family and reports whether the listener read it.
func (l *nflogLab) logs(t *testing.T, src netip.Addr, k derive.Knock) bool {
	l.once.Do(func() { l.start(t) })
	l.mu.Lock()
	l.got = nil
	l.mu.Unlock()
	dst := l.p.ServerV4
	if src.Is6() {
		dst = l.p.ServerV6
	}
	l.p.Do(t, l.p.Client, func() {
		if _, err := l.w.Write(context.Background(), dst, k); err != nil {
			t.Errorf("sending %v to %v: %v", k, dst, err)
		}
	})
	time.Sleep(300 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.got, src.String()+" "+k.String())
}
