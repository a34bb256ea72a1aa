package sendertest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender"
)

// TestFakePayload checks that the fake renders payloads in hex after
// the packet.
func TestFakePayload(t *testing.T) {
	c := clocktest.NewFake(time.Unix(100, 0))
	f := &Fake{Clock: c, Start: time.Unix(100, 0)}
	dst := netip.MustParseAddr("198.18.0.1")
	f.Write(context.Background(), dst, derive.Knock{Proto: derive.TCP, Port: 1000})
	c.Advance(50 * time.Millisecond)
	f.WritePayload(context.Background(), dst, derive.Knock{Proto: derive.UDP, Port: 2000}, []byte("otp"))
	f.WritePayload(context.Background(), dst, derive.Knock{Proto: derive.ICMP, Port: 3000}, nil)
	want := "  0.00s tcp/1000 -> 198.18.0.1\n  0.05s udp/2000 -> 198.18.0.1 payload 6f7470\n  0.05s icmp/3000 -> 198.18.0.1 payload (empty)"
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("fake (-want +got):\n%s", diff)
	}
}

// TestFakeRefusesTCPPayload: like the real writers, the fake refuses a
// payload on a TCP knock, with sender.ErrProtoPayload, and records
// nothing.
func TestFakeRefusesTCPPayload(t *testing.T) {
	f := &Fake{Clock: clocktest.NewFake(time.Unix(0, 0))}
	how, err := f.WritePayload(context.Background(), netip.MustParseAddr("127.0.0.1"), derive.Knock{Proto: derive.TCP, Port: 9}, []byte("x"))
	if !errors.Is(err, sender.ErrProtoPayload) || how != "" {
		t.Errorf("how %q, err %v; want %v", how, err, sender.ErrProtoPayload)
	}
	if f.String() != "" {
		t.Errorf("fake recorded %q", f.String())
	}
}

// TestFakeProber: the prober answers while Open says so, and otherwise
// fails after taking the attempt's timeout off the clock; it counts
// every attempt.
func TestFakeProber(t *testing.T) {
	start := time.Unix(100, 0)
	c := clocktest.NewFake(start)
	p := &FakeProber{Clock: c, Open: func(now time.Time) bool { return now.Sub(start) >= 3*time.Second }}
	addr := netip.MustParseAddrPort("198.18.0.1:22")
	var got []string
	for range 3 {
		conn, err := p.Probe(context.Background(), addr, 2*time.Second)
		if conn != nil {
			conn.Close()
		}
		got = append(got, fmt.Sprintf("%v open=%v err=%v", c.Now().Sub(start), conn != nil, err))
	}
	want := []string{
		"2s open=false err=dial tcp 198.18.0.1:22: i/o timeout",
		"4s open=false err=dial tcp 198.18.0.1:22: i/o timeout",
		"4s open=true err=<nil>",
	}
	if diff := cmp.Diff(want, got); diff != "" || p.Tries != 3 {
		t.Errorf("tries %d, probes (-want +got):\n%s", p.Tries, diff)
	}
}
