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

// TestNFTFilter installs a filtering plan with the nftables backend in a
// server namespace and counts the NFLOG messages the listener reads for
// knocks from a client namespace, over IPv4 and IPv6: a knock to a port
// in the range that is no armed element, from an untracked source, logs
// nothing (ICMP echo requests too: the armed set holds their sequence
// numbers); an armed element logs once and tracks its source in the
// kernel (the rule's update, seen in the source set) for the plan's
// Track, so the stray right after it logs too; a source tracked by
// Track logs its strays once each; elements and sources expire on the
// kernel's clock; Verify finds the table as planned (the kernel's
// rules read back as written) and a second Setup changes nothing;
// 3,000 elements arm in one transaction; an armed
// echo request (by its sequence number) logs and tracks like a port.
func TestNFTFilter(t *testing.T) {
	netnstest.Require(t, "nft")
	p := netnstest.NewPair(t)
	plan := testPlan()
	plan.Filter, plan.Track = true, time.Second
	k := nftIn(t, p, plan)
	listing := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", NFTTable)
	var diff []string
	var err error
	p.Do(t, p.Server, func() {
		if err = k.Setup(plan); err == nil {
			diff, err = k.Verify(plan)
		}
	})
	if err != nil || len(diff) != 0 {
		t.Fatalf("Setup again and Verify: %v\n%s", err, strings.Join(diff, "\n"))
	}
	if again := p.MustRun(t, p.Server, "nft", "-a", "list", "table", "inet", NFTTable); again != listing {
		t.Errorf("a second Setup changed the table:\n%s\nbefore:\n%s", again, listing)
	}
	for _, want := range []string{"update @src4 { ip saddr timeout 1s }", "update @src6 { ip6 saddr timeout 1s }",
		"meta l4proto . tcp dport != @armed ip saddr @src4 log group 4711", "meta l4proto . icmp sequence @armed",
		"type inet_proto . inet_service", "flags dynamic,timeout"} {
		if !strings.Contains(listing, want) {
			t.Errorf("nft list lacks %q:\n%s", want, listing)
		}
	}
	var src *listener.NFLOG
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

	check("nothing armed, nothing tracked", send(tcp(30000), udp(30001), icmp), nil)
	in(func() error {
		return k.Arm([]Element{{tcp(30000), 3 * time.Second}, {udp(30001), 3 * time.Second}, {icmp, time.Second}})
	})
	check("a stray before any element", send(tcp(30002), udp(30003), derive.Knock{Proto: derive.ICMP, Port: 31001}), nil)
	check("an element tracks its source in the kernel", send(tcp(30000), tcp(30002)), both(tcp(30000), tcp(30002)))
	srcs := p.MustRun(t, p.Server, "nft", "list", "set", "inet", NFTTable, NFTSrc4) + p.MustRun(t, p.Server, "nft", "list", "set", "inet", NFTTable, NFTSrc6)
	if !strings.Contains(srcs, p.ClientV4.String()) || !strings.Contains(srcs, p.ClientV6.String()) {
		t.Errorf("the element's packets did not track their sources in the kernel:\n%s", srcs)
	}
	time.Sleep(1500 * time.Millisecond) // the plan's Track: 1 s
	check("the kernel's tracking and the ICMP element expired", send(udp(30003), icmp), nil)
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
	time.Sleep(1500 * time.Millisecond) // the batch's tracking expires
	echo := func(seq uint16) derive.Knock { return derive.Knock{Proto: derive.ICMP, Port: seq} }
	in(func() error { return k.Arm([]Element{{echo(31000), 5 * time.Second}}) })
	check("an echo request to no element", send(echo(31001)), nil)
	check("an armed echo request tracks its source", send(echo(31000), echo(31001)), both(echo(31000), echo(31001)))
	out := p.MustRun(t, p.Server, "nft", "list", "set", "inet", NFTTable, NFTArmed)
	if n := strings.Count(out, "tcp . 4"); n != 3000 {
		t.Errorf("after arming 3,000 ports: %d of them in the set", n)
	}
	in(func() error { return k.Remove(plan) })
	if out := p.MustRun(t, p.Server, "nft", "list", "ruleset"); strings.Contains(out, NFTTable) {
		t.Errorf("table left after Remove:\n%s", out)
	}
}
