package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/otpknock/otpknock/fleet"
)

// TestUseStepDoesNotWaitForABinding: while NATS is unreachable and the
// buckets are not bound yet (a member that started without NATS), a
// used-step check gives up at its own deadline, not at the end of
// another caller's longer attempt to bind them.
func TestUseStepDoesNotWaitForABinding(t *testing.T) {
	s := natsServer(t)
	url := s.ClientURL()
	s.Shutdown() // nothing answers there any more
	js, err := fleet.Dial(fleet.Options{URLs: []string{url}, Fleet: "acme", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		js.Records(ctx) // binds the buckets, failing after 3 s
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = js.UseStep(ctx, "vpn.example.org", "alice", 1)
	if took := time.Since(start); err == nil || took > time.Second {
		t.Errorf("UseStep with a 250 ms deadline: %v after %v, want an error within it", err, took)
	}
}

// TestDialLogsWhyItCannotConnect: a failed connection is logged, once
// for each reason while it keeps failing.
func TestDialLogsWhyItCannotConnect(t *testing.T) {
	s := natsServer(t)
	url := s.ClientURL()
	s.Shutdown()
	buf := &syncWriter{w: &bytes.Buffer{}}
	js, err := fleet.Dial(fleet.Options{URLs: []string{url}, Fleet: "acme", Insecure: true,
		Log: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // several attempts, 250 ms apart
	js.Close()
	out := buf.String()
	if n := strings.Count(out, `msg="fleet: cannot connect to NATS"`); n != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("the log has %d lines for the refused connection, want 1 naming it:\n%s", n, out)
	}
}

// TestDialOnce: a command's dial (Once) fails at once when no server
// answers.
func TestDialOnce(t *testing.T) {
	s := natsServer(t)
	url := s.ClientURL()
	s.Shutdown()
	start := time.Now()
	js, err := fleet.Dial(fleet.Options{URLs: []string{url}, Fleet: "acme", Insecure: true, Once: true})
	if err == nil {
		js.Close()
	}
	if !errors.Is(err, nats.ErrNoServers) || time.Since(start) > 2*time.Second {
		t.Errorf("Dial once to a stopped server: %v after %v, want %v at once", err, time.Since(start), nats.ErrNoServers)
	}
}

// syncWriter is a writer for a log that goroutines share.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*bytes.Buffer).String()
}
