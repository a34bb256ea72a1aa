package firewall

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/sender"
)

// TestKernelFilter installs a filtering plan in a server namespace and
// counts the NFLOG messages the listener reads for knocks from a client
// namespace, over IPv4 and IPv6: a knock to a port in the range that is
// no armed element, from an untracked source, logs nothing; an armed
// element logs once and tracks its source in the kernel for the plan's
// Track, so the stray right after it logs too; a source tracked by
// Track logs its strays once each; elements and sources expire on the
// kernel's clock; ICMP echo requests are always logged.
func TestKernelFilter(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Filter, plan.Track = true, time.Second
	k := kernelIn(t, p, plan)
	for _, ipt := range []string{"iptables", "ip6tables"} {
		if n := strings.Count(p.MustRun(t, p.Server, ipt, "-S", Chain), "--match-set otpknock-"); n != 8 {
			t.Errorf("%s: %d filter set matches, want 8:\n%s", ipt, n, p.MustRun(t, p.Server, ipt, "-S", Chain))
		}
	}
	var src *listener.NFLOG
	var err error
	p.Do(t, p.Server, func() { src, err = listener.Open(listener.DefaultOptions(plan.Group)) })
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(pk listener.Packet) {
			mu.Lock()
			got = append(got, pk.Src.String()+" "+pk.Knock.String())
			mu.Unlock()
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	in := func(fn func() error) {
		t.Helper()
		p.Do(t, p.Server, func() { err = fn() })
		if err != nil {
			t.Fatal(err)
		}
	}
	tcp := func(port uint16) derive.Knock { return derive.Knock{Proto: derive.TCP, Port: port} }
	udp := func(port uint16) derive.Knock { return derive.Knock{Proto: derive.UDP, Port: port} }
	icmp := derive.Knock{Proto: derive.ICMP, Port: 31000}
	// send knocks from the client to both families' server addresses and
	// returns what the listener logged meanwhile, sorted.
	w := &sender.Kernel{}
	send := func(ks ...derive.Knock) []string {
		t.Helper()
		mu.Lock()
		got = nil
		mu.Unlock()
		p.Do(t, p.Client, func() {
			for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
				for _, kn := range ks {
					if _, err := w.Write(context.Background(), dst, kn); err != nil {
						t.Errorf("sending %v to %v: %v", kn, dst, err)
					}
				}
			}
		})
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		out := append([]string(nil), got...)
		slices.Sort(out)
		return out
	}
	both := func(ks ...derive.Knock) []string {
		var out []string
		for _, a := range []netip.Addr{p.ClientV4, p.ClientV6} {
			for _, kn := range ks {
				out = append(out, a.String()+" "+kn.String())
			}
		}
		slices.Sort(out)
		return out
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: NFLOG messages (-want +got):\n%s", name, diff)
		}
	}

	check("nothing armed, nothing tracked", send(tcp(30000), udp(30001), icmp), both(icmp))
	in(func() error {
		return k.Arm([]Element{{tcp(30000), 3 * time.Second}, {udp(30001), 3 * time.Second}, {icmp, time.Second}})
	})
	check("a stray before any element", send(tcp(30002), udp(30003)), nil)
	check("an element tracks its source in the kernel", send(tcp(30000), tcp(30002)), both(tcp(30000), tcp(30002)))
	time.Sleep(1500 * time.Millisecond) // the plan's Track: 1 s
	check("the kernel's tracking expired", send(udp(30003)), nil)
	in(func() error {
		return k.Track([]Source{{p.ClientV4, 2 * time.Second}, {p.ClientV6, 2 * time.Second}})
	})
	check("tracked source", send(tcp(30002), udp(30003), tcp(19999)), both(tcp(30002), udp(30003)))
	time.Sleep(2500 * time.Millisecond)
	check("elements and sources expired", send(tcp(30000), udp(30001), tcp(30002)), nil)

	// A batch beyond one message: every port of a 3,000-port span.
	var many []Element
	for port := uint16(40000); port < 43000; port++ {
		many = append(many, Element{tcp(port), 5 * time.Second})
	}
	in(func() error { return k.Arm(many) })
	check("batched elements", send(tcp(43000), tcp(40000), tcp(42999)), both(tcp(40000), tcp(42999)))
	out, err := p.Cmd(p.Server, "ipset", "list", FilterTCP).CombinedOutput()
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if port, _, ok := strings.Cut(l, " timeout "); ok && port >= "40000" && port <= "42999" {
			n++
		}
	}
	if err != nil || n != 3000 {
		t.Errorf("after arming 3,000 ports: %d of them in the set (%v)", n, err)
	}
	in(func() error { return k.Remove(plan) })
	if out, _ := p.Cmd(p.Server, "ipset", "list", "-n").CombinedOutput(); strings.Contains(string(out), "otpknock") {
		t.Errorf("sets left after Remove: %s", out)
	}
}
