package sendertest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender"
)

// Fake is a sender.PayloadWriter and FakeProber a sender.Prober.
var (
	_ sender.PayloadWriter = (*Fake)(nil)
	_ sender.Prober        = (*FakeProber)(nil)
)

// Fake is a Writer that records packets with the time they left. Its
// String method renders them for want-string comparisons.
type Fake struct {
	Clock clock.Clock
	Start time.Time // times are rendered relative to Start
	Err   error     // returned by every Write when set

	mu      sync.Mutex
	packets []string
}

// Write records the knock.
func (f *Fake) Write(_ context.Context, dst netip.Addr, k derive.Knock) (string, error) {
	if f.Err != nil {
		return "", f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.packets = append(f.packets, fmt.Sprintf("%6.2fs %v -> %v", f.Clock.Now().Sub(f.Start).Seconds(), k, dst))
	return "fake", nil
}

// WritePayload records a UDP or ICMP knock and its payload, in hex;
// like [sender.Portable], it refuses a payload on a TCP knock.
func (f *Fake) WritePayload(_ context.Context, dst netip.Addr, k derive.Knock, payload []byte) (string, error) {
	if r, _ := k.Proto.Info(); !r.Payload {
		return "", fmt.Errorf("%v: %w", k, sender.ErrProtoPayload)
	}
	if f.Err != nil {
		return "", f.Err
	}
	hex := fmt.Sprintf("%x", payload)
	if len(payload) == 0 {
		hex = "(empty)"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.packets = append(f.packets, fmt.Sprintf("%6.2fs %v -> %v payload %s", f.Clock.Now().Sub(f.Start).Seconds(), k, dst, hex))
	return "fake", nil
}

// String returns one line per packet: "  0.05s tcp/23456 -> 198.18.0.1",
// with " payload 6f7470" (or " payload (empty)") after a packet sent
// with WritePayload.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.packets, "\n")
}

// FakeProber answers when its Open function says the service is open at
// the current time, and otherwise fails after the attempt's timeout.
type FakeProber struct {
	Clock *clocktest.Fake
	Open  func(now time.Time) bool
	Tries int
}

// Probe counts the attempt and advances the fake clock like a real one.
func (p *FakeProber) Probe(_ context.Context, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	p.Tries++
	if p.Open(p.Clock.Now()) {
		c, s := net.Pipe()
		s.Close()
		return c, nil
	}
	p.Clock.Advance(timeout)
	return nil, fmt.Errorf("dial tcp %v: i/o timeout", addr)
}

// Describe says the fake would record k.
func (f *Fake) Describe(derive.Knock) string { return "fake" }
