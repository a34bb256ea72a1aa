package sender_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// TestPacketCopies holds a packet knock's copies to docs/spec.md section
// 11.7: none once the service answers, at most Resends while it stays
// closed, none within the step's margin (0.5 s) of its end or after it,
// and none when the service cannot be tested (no Wait).
func TestPacketCopies(t *testing.T) {
	client := netip.MustParseAddr("198.18.0.2")
	for _, tc := range []struct {
		name   string
		offset time.Duration // into the step, at the first packet
		openAt time.Duration // from the step's start; -1: never
		wait   bool
		want   []string // when each packet left, into the step
	}{
		{"open at once: no copy", 10 * time.Second, 0, true, []string{" 10.00s"}},
		{"open after the first copy: one copy", 10 * time.Second, 10*time.Second + 305*time.Millisecond, true, []string{" 10.00s", " 10.30s"}},
		{"never open: three copies", 10 * time.Second, -1, true, []string{" 10.00s", " 10.30s", " 10.60s", " 10.90s"}},
		{"late in the step: copies stop at the margin", 29 * time.Second, -1, true, []string{" 29.00s", " 29.30s"}},
		{"just inside the margin: no copy", 29*time.Second + 400*time.Millisecond, -1, true, []string{" 29.40s"}},
		{"no service to test: no copy", 10 * time.Second, -1, false, []string{" 10.00s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, f, c, _ := setup(tc.offset)
			start := derive.StepStart(60000000, 30*time.Second)
			r := request()
			r.Mode, r.Claim = derive.ModePacket, derive.Claim{Addrs: []netip.Addr{client}}
			var w *sender.Wait
			if tc.wait {
				p := &sendertest.FakeProber{Clock: c, Open: func(now time.Time) bool { return tc.openAt >= 0 && now.Sub(start) >= tc.openAt }}
				w = &sender.Wait{Prober: p, Addr: netip.AddrPortFrom(dst, 22), Timeout: 5 * time.Second}
			}
			_, err := k.Open(context.Background(), r, w, 0, nil)
			if (err == nil) != (tc.openAt >= 0 || !tc.wait) {
				t.Errorf("Open: %v", err)
			}
			var got []string
			for _, line := range strings.Split(f.String(), "\n") {
				if !strings.Contains(line, " payload ") {
					t.Fatalf("not a packet knock: %q", line)
				}
				got = append(got, line[:7])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("packets sent (-want +got):\n%s", diff)
			}
		})
	}
}
