package sender

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// droppingService stands for a service behind a port that drops SYNs
// until a grant: a connect started before openAt (from the service's
// start) waits, as a connect whose SYN was dropped does (the kernel sends
// it again only after a second), until its context ends; one started
// after answers at once. With refuse, every connect is refused at once.
type droppingService struct {
	start  time.Time
	openAt time.Duration // negative: never opens
	refuse bool

	mu       sync.Mutex
	attempts int
	live     int // connects not returned yet
	conns    []net.Conn
}

func (s *droppingService) dial(ctx context.Context, addr string) (net.Conn, error) {
	s.mu.Lock()
	s.attempts++
	s.live++
	open := s.openAt >= 0 && time.Since(s.start) >= s.openAt
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.live--
		s.mu.Unlock()
	}()
	switch {
	case s.refuse:
		return nil, fmt.Errorf("dial tcp %s: connection refused", addr)
	case open:
		c, srv := net.Pipe()
		srv.Close()
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		return c, nil
	}
	<-ctx.Done()
	return nil, fmt.Errorf("dial tcp %s: i/o timeout", addr)
}

// TestDialerStaggers: while no connect has answered, the Dialer starts
// another (10 ms after the first, then each twice as long after the
// last), so a grant that lands after the first SYN was dropped is seen
// within about twice its delay, not when the first connect's timeout
// ends; a refusal ends the probe at once, and no connect outlives it.
func TestDialerStaggers(t *testing.T) {
	addr := netip.MustParseAddrPort("198.18.0.1:22")
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name        string
		openAt      time.Duration
		refuse      bool
		wantOpen    bool
		wantErr     string // the error, when not open: the last connect's
		minAttempts int
		maxAttempts int
		before      time.Duration // the probe returns within
		notBefore   time.Duration // and not sooner than
	}{
		{name: "open at once", openAt: 0, wantOpen: true, minAttempts: 1, maxAttempts: 1, before: 100 * time.Millisecond},
		{name: "granted 40 ms after the first SYN", openAt: 40 * time.Millisecond, wantOpen: true, minAttempts: 2, maxAttempts: 5, before: 200 * time.Millisecond, notBefore: 40 * time.Millisecond},
		{name: "never opens", openAt: -1, wantErr: "i/o timeout", minAttempts: 3, maxAttempts: 6, before: timeout + 200*time.Millisecond, notBefore: timeout},
		{name: "refused", refuse: true, wantErr: "connection refused", minAttempts: 1, maxAttempts: 1, before: 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &droppingService{start: time.Now(), openAt: tc.openAt, refuse: tc.refuse}
			d := Dialer{dial: svc.dial}
			t0 := time.Now()
			conn, err := d.Probe(context.Background(), addr, timeout)
			took := time.Since(t0)
			if gotOpen := err == nil; gotOpen != tc.wantOpen {
				t.Fatalf("Probe: err %v, want open %v", err, tc.wantOpen)
			}
			if conn != nil {
				conn.Close()
			}
			if took >= tc.before || took < tc.notBefore {
				t.Errorf("Probe returned after %v, want from %v to %v", took, tc.notBefore, tc.before)
			}
			// Every connect ends once the probe returned.
			for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
				svc.mu.Lock()
				live, attempts, conns := svc.live, svc.attempts, len(svc.conns)
				svc.mu.Unlock()
				if live == 0 {
					if attempts < tc.minAttempts || attempts > tc.maxAttempts {
						t.Errorf("%d connects, want %d to %d", attempts, tc.minAttempts, tc.maxAttempts)
					}
					if tc.wantOpen && conns != 1 {
						t.Errorf("%d connects answered, want 1", conns)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d connects still running a second after the probe returned", live)
				}
			}
			if !tc.wantOpen && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Probe: %v, want the connect's own error (%s)", err, tc.wantErr)
			}
		})
	}
}
