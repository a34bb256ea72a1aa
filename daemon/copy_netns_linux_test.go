package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/sender"
)

// TestLateCopyNetns runs the daemon on each real backend in a server
// namespace: pat's packet knock from the client namespace is granted,
// and a copy of it (the same step and claim, a new nonce) that arrives
// after the grant, as a client's retry does when its probe missed the
// open service, is logged as a duplicate: no replay line and nothing
// the shipped fail2ban filter matches. The same packet from another
// source still reads as a replay, which the filter matches.
func TestLateCopyNetns(t *testing.T) {
	for _, kind := range firewall.Kinds() {
		t.Run(kind.Name(), func(t *testing.T) {
			netnstest.Require(t, map[string][]string{firewall.ModeNFTables: {"nft"}, firewall.ModeIPTables: {"iptables", "ip6tables", "ipset"}}[kind.Name()]...)
			p := netnstest.NewPair(t)
			cfg, _ := setupConfig(t)
			cfg, pd := addPacketUser(t, cfg)
			cfg.Firewall = kind.Name()
			log := &netnstest.Buffer{}
			startIn(t, p, kind.Open, cfg, log)
			stranger := netip.MustParseAddr("198.18.0.9")
			p.MustRun(t, p.Client, "ip", "addr", "add", stranger.String()+"/24", "dev", "veth0", "nodad", "preferred_lft", "0")
			step := derive.Step(time.Now(), cfg.Params.Period)
			el, err := pd.Knock(step)
			if err != nil {
				t.Fatal(err)
			}
			send := func(n byte, from netip.Addr) {
				t.Helper()
				payload := seal(t, pd, step, n, p.ClientV4)
				p.Do(t, p.Client, func() {
					if err := sendFrom(from, p.ServerV4, el, payload); err != nil {
						t.Errorf("packet knock %d from %v: %v", n, from, err)
					}
				})
				time.Sleep(300 * time.Millisecond)
			}
			send(1, p.ClientV4) // the knock
			send(2, p.ClientV4) // its copy, after the grant
			logs := log.String()
			grant := fmt.Sprintf("msg=grant src=%v user=pat step=%d", p.ClientV4, step)
			dup := fmt.Sprintf("level=INFO msg=duplicate src=%v user=pat step=%d", p.ClientV4, step)
			if !strings.Contains(logs, grant) || !strings.Contains(logs, dup) {
				t.Fatalf("log lacks the grant and the duplicate:\n%s", logs)
			}
			if strings.Contains(logs, "msg=replay") {
				t.Errorf("a late copy was logged as a replay:\n%s", logs)
			}
			if hosts := fail2banHosts(t, logs); len(hosts) > 0 {
				t.Errorf("the fail2ban filter matches %q in a late copy's log:\n%s", hosts, logs)
			}
			send(3, stranger) // the step from elsewhere: a replay
			if hosts := fail2banHosts(t, log.String()); len(hosts) != 1 || hosts[0] != stranger.String() {
				t.Errorf("the fail2ban filter matches %q, want the stranger's replay:\n%s", hosts, log.String())
			}
		})
	}
}

// sendFrom sends one UDP packet knock carrying payload from src to dst.
func sendFrom(src, dst netip.Addr, el derive.Knock, payload []byte) error {
	if el.Proto != derive.UDP {
		return fmt.Errorf("element %v: this test sends udp", el)
	}
	c, err := (&net.Dialer{LocalAddr: &net.UDPAddr{IP: src.AsSlice()}}).DialContext(context.Background(), "udp", netip.AddrPortFrom(dst, el.Port).String())
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write(payload)
	return err
}

// TestPingsBetweenKnocksNetns runs the daemon on each real backend with
// icmp among the knock protocols: alice's sequence, with 20 plain pings
// (sequence numbers from 1 on) from her address after each knock, opens;
// her next step's sequence with nine echo requests in the knock range
// after its first knock does not (they are strays, and reach the
// server), and opens when sent again without them.
func TestPingsBetweenKnocksNetns(t *testing.T) {
	for _, kind := range firewall.Kinds() {
		t.Run(kind.Name(), func(t *testing.T) {
			netnstest.Require(t, map[string][]string{firewall.ModeNFTables: {"nft"}, firewall.ModeIPTables: {"iptables", "ip6tables", "ipset"}}[kind.Name()]...)
			p := netnstest.NewPair(t)
			cfg, secret := setupConfig(t)
			cfg.Firewall = kind.Name()
			cfg.Params.Protocols |= derive.Protocols(derive.ICMP)
			log := &netnstest.Buffer{}
			startIn(t, p, inNetns(t, p, kind.Open), cfg, log)
			step := derive.Step(time.Now(), cfg.Params.Period)
			ping := uint16(1)
			knock := func(step uint64, between func() []uint16) {
				t.Helper()
				seq, err := derive.Sequence(secret, cfg.ServerID, cfg.Params, step, netip.Addr{})
				if err != nil {
					t.Fatal(err)
				}
				w := &sender.Kernel{}
				p.Do(t, p.Client, func() {
					for i, kn := range seq {
						if _, err := w.Write(context.Background(), p.ServerV4, kn); err != nil {
							t.Errorf("knock %v: %v", kn, err)
						}
						if i == len(seq)-1 {
							break
						}
						for _, n := range between() {
							if _, err := w.Write(context.Background(), p.ServerV4, derive.Knock{Proto: derive.ICMP, Port: n}); err != nil {
								t.Errorf("ping %d: %v", n, err)
							}
							time.Sleep(5 * time.Millisecond)
						}
						time.Sleep(100 * time.Millisecond)
					}
				})
				time.Sleep(300 * time.Millisecond)
			}
			knock(step, func() []uint16 {
				var out []uint16
				for range 20 {
					out, ping = append(out, ping), ping+1
				}
				return out
			})
			grant := fmt.Sprintf("msg=grant src=%v user=alice step=%d", p.ClientV4, step)
			if !strings.Contains(log.String(), grant) {
				t.Errorf("plain pings between the knocks kept the sequence from opening:\n%s", log)
			}
			first := true
			knock(step+1, func() []uint16 {
				if !first {
					return nil
				}
				first = false
				var out []uint16
				for i := range uint16(9) {
					out = append(out, cfg.Params.PortMin+i)
				}
				return out
			})
			next := fmt.Sprintf("msg=grant src=%v user=alice step=%d", p.ClientV4, step+1)
			if strings.Contains(log.String(), next) {
				t.Errorf("nine echo requests in the knock range did not cancel the sequence:\n%s", log)
			}
			knock(step+1, func() []uint16 { return nil }) // control: the cancelled step still opens
			if !strings.Contains(log.String(), next) {
				t.Errorf("control: the step's sequence without echo requests did not open:\n%s", log)
			}
		})
	}
}

// inNetns wraps the backend open returns so that its Filter's Arm and
// Track, which the daemon calls from goroutines of its own (outside the
// namespace), open their netlink sockets in the pair's server namespace.
func inNetns(t *testing.T, p *netnstest.Pair, open func() (firewall.Backend, error)) func() (firewall.Backend, error) {
	return func() (firewall.Backend, error) {
		b, err := open()
		if err != nil {
			return nil, err
		}
		f, ok := b.(firewall.Filter)
		if !ok {
			return b, nil
		}
		return netnsFilter{Backend: b, f: f, do: func(fn func()) { p.Do(t, p.Server, fn) }}, nil
	}
}

// netnsFilter is a Backend whose Filter runs in a namespace.
type netnsFilter struct {
	firewall.Backend
	f  firewall.Filter
	do func(func())
}

func (n netnsFilter) Arm(elems []firewall.Element) (err error) {
	n.do(func() { err = n.f.Arm(elems) })
	return err
}

func (n netnsFilter) Track(srcs []firewall.Source) (err error) {
	n.do(func() { err = n.f.Track(srcs) })
	return err
}
