package firewall

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/listener"
	"github.com/otpknock/otpknock/sender"
)

// filterLab sends knocks from the pair's client namespace to a
// filtering plan in its server namespace and reads what the plan logs
// to NFLOG group: the harness of both backends' filter tests.
type filterLab struct {
	t   *testing.T
	p   *netnstest.Pair
	w   sender.Kernel
	mu  sync.Mutex
	got []string
}

// newFilterLab reads group in the server namespace until the test ends.
func newFilterLab(t *testing.T, p *netnstest.Pair, group uint16) *filterLab {
	t.Helper()
	l := &filterLab{t: t, p: p}
	var src *listener.NFLOG
	var err error
	p.Do(t, p.Server, func() { src, err = listener.Open(listener.DefaultOptions(group)) })
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
	return l
}

// in runs fn in the server namespace; an error ends the test.
func (l *filterLab) in(fn func() error) {
	l.t.Helper()
	var err error
	l.p.Do(l.t, l.p.Server, func() { err = fn() })
	if err != nil {
		l.t.Fatal(err)
	}
}

// send knocks from the client to both families' server addresses and
// returns what the listener logged meanwhile, sorted.
func (l *filterLab) send(ks ...derive.Knock) []string {
	l.t.Helper()
	l.mu.Lock()
	l.got = nil
	l.mu.Unlock()
	l.p.Do(l.t, l.p.Client, func() {
		for _, dst := range []netip.Addr{l.p.ServerV4, l.p.ServerV6} {
			for _, kn := range ks {
				if _, err := l.w.Write(context.Background(), dst, kn); err != nil {
					l.t.Errorf("sending %v to %v: %v", kn, dst, err)
				}
			}
		}
	})
	time.Sleep(300 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.got...)
	slices.Sort(out)
	return out
}

// both is what the listener logs for ks sent from both client
// addresses, sorted.
func (l *filterLab) both(ks ...derive.Knock) []string {
	var out []string
	for _, a := range []netip.Addr{l.p.ClientV4, l.p.ClientV6} {
		for _, kn := range ks {
			out = append(out, a.String()+" "+kn.String())
		}
	}
	slices.Sort(out)
	return out
}

// check compares what was logged with what should have been.
func (l *filterLab) check(name string, got, want []string) {
	l.t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		l.t.Errorf("%s: NFLOG messages (-want +got):\n%s", name, diff)
	}
}

func tcpKnock(port uint16) derive.Knock { return derive.Knock{Proto: derive.TCP, Port: port} }
func udpKnock(port uint16) derive.Knock { return derive.Knock{Proto: derive.UDP, Port: port} }
func echoKnock(seq uint16) derive.Knock { return derive.Knock{Proto: derive.ICMP, Port: seq} }
