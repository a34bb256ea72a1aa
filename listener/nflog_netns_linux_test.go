package listener

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/sender"
)

// TestNFLOGKernel logs the client's knocks with an iptables NFLOG rule
// in the server namespace and reads them with the listener: TCP, UDP and
// ICMP over IPv4 and IPv6, decoded exactly.
func TestNFLOGKernel(t *testing.T) {
	netnstest.Require(t, "iptables", "ip6tables")
	p := netnstest.NewPair(t)
	const group = 4711
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, m := range [][]string{{"-p", "tcp", "--syn"}, {"-p", "udp"}} {
			p.MustRun(t, p.Server, append(append([]string{ipt, "-A", "INPUT"}, m...), "-j", "NFLOG", "--nflog-group", fmt.Sprint(group), "--nflog-size", "128")...)
		}
	}
	p.MustRun(t, p.Server, "iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group))
	p.MustRun(t, p.Server, "ip6tables", "-A", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", "echo-request", "-j", "NFLOG", "--nflog-group", fmt.Sprint(group))

	var src *NFLOG
	var err error
	p.Do(t, p.Server, func() { src, err = Open(DefaultOptions(group)) })
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var second *NFLOG
	p.Do(t, p.Server, func() { second, err = Open(DefaultOptions(group)) })
	if err == nil {
		second.Close()
		t.Errorf("a second listener bound the same group")
	} else if !errors.Is(err, ErrGroupTaken) {
		t.Errorf("second bind: %v, want ErrGroupTaken", err)
	}

	var mu sync.Mutex
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- src.Run(ctx, func(pk Packet) {
			mu.Lock()
			got = append(got, pk.Src.String()+" "+pk.Knock.String())
			mu.Unlock()
		})
	}()

	knocks := []derive.Knock{{Proto: derive.TCP, Port: 23456}, {Proto: derive.UDP, Port: 40123}, {Proto: derive.ICMP, Port: 31337}}
	var want []string
	w := &sender.Kernel{}
	p.Do(t, p.Client, func() {
		for _, dst := range []netip.Addr{p.ServerV4, p.ServerV6} {
			srcAddr := map[bool]netip.Addr{true: p.ClientV4, false: p.ClientV6}[dst.Is4()]
			for _, k := range knocks {
				if _, err := w.Write(context.Background(), dst, k); err != nil {
					t.Errorf("sending %v to %v: %v", k, dst, err)
				}
				want = append(want, srcAddr.String()+" "+k.String())
			}
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything extra would show now
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listener got:\n%v\nwant:\n%v", got, want)
	}
	if st := src.Stats(); st.Lost != 0 || st.Malformed != 0 || st.Knocks != uint64(len(want)) {
		t.Errorf("stats %+v", st)
	}
}
