package firewall

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestNFTForward publishes a container's port the way Docker does (DNAT
// of 8080 on the server to 198.18.9.2:80 in a container namespace; the
// packets cross the forward hook, never input): the prerouting chain
// keeps it closed, a grant for tcp/8080 opens it for the granted address
// only; without Forward in the plan the chain goes.
func TestNFTForward(t *testing.T) {
	netnstest.Require(t, "nft", "iptables")
	p := netnstest.NewPair(t)
	ctr := p.Container(t)
	stranger := netip.MustParseAddr("198.18.0.3")
	p.MustRun(t, p.Client, "ip", "addr", "add", stranger.String()+"/24", "dev", "veth0")
	go Echo(p.Listen(t, ctr, "tcp", "0.0.0.0:80"))
	open := func(from netip.Addr) bool {
		var err error
		p.Do(t, p.Client, func() {
			d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
			var c net.Conn
			if c, err = d.Dial("tcp", fmt.Sprintf("%v:8080", p.ServerV4)); err == nil {
				c.Close()
			}
		})
		return err == nil
	}
	if !open(p.ClientV4) {
		t.Fatalf("control: the published port does not answer without otpknock")
	}
	plan := testPlan()
	web := derive.Knock{Proto: derive.TCP, Port: 8080}
	plan.Protected = append(plan.Protected, web)
	plan.Forward = []derive.Knock{web}
	var err error
	n := nftIn(t, p, plan)
	defer p.Do(t, p.Server, func() { n.Remove(plan) })
	var diff []string
	p.Do(t, p.Server, func() { diff, err = n.Verify(plan) })
	if err != nil || len(diff) != 0 {
		t.Fatalf("Verify with Forward: %v %q", err, diff)
	}
	if open(p.ClientV4) {
		t.Fatalf("published port open without a grant")
	}
	p.Do(t, p.Server, func() { err = n.Grant(HostPrefix(p.ClientV4), web, 30*time.Second) })
	if err != nil {
		t.Fatal(err)
	}
	if !open(p.ClientV4) {
		out, _ := p.Cmd(p.Server, "nft", "list", "ruleset").CombinedOutput()
		t.Errorf("published port closed after the grant:\n%s", out)
	}
	if open(stranger) {
		t.Errorf("the client's grant opened the published port for another address")
	}
	p.Do(t, p.Server, func() { plan.Forward = nil; err = n.Setup(plan) })
	if err != nil {
		t.Fatal(err)
	}
	if !open(stranger) {
		t.Errorf("without Forward the published port should follow the host's rules (open)")
	}
	p.Do(t, p.Server, func() { diff, err = n.Verify(plan) })
	if err != nil || len(diff) != 0 {
		t.Errorf("Verify without Forward: %v %q", err, diff)
	}
}
