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
