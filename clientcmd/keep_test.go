package clientcmd

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/publicaddr"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestKeepKnocksAndStops: keep knocks at once and says so in one line,
// then stays running until its context ends (SIGINT or SIGTERM in
// cli.Main), and returns nil (exit 0).
func TestKeepKnocksAndStops(t *testing.T) {
	h, f := withProfile(t, "198.18.0.1")
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"keep", "gw1", "--wait", "none"}, Env{Env: cli.Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return h.env[k] }, Clock: h.clock, Version: "test"},
			Writer: h.writer,
			Finder: func([]string, *publicaddr.Cache) client.Finder { return nil },
		})
	}()
	line := regexp.MustCompile(`^2027-01-15T08:00:10Z gw1: knocked \(start; [^)]*\): step 60000000 sent to 198\.18\.0\.1\n$`)
	deadline := time.Now().Add(5 * time.Second)
	for out.String() == "" {
		select {
		case err := <-done:
			t.Fatalf("keep returned before knocking: %v\nstderr: %s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("keep said nothing within 5s; stderr: %s", errb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !line.MatchString(out.String()) {
		t.Errorf("keep said %q, want a line matching %v", out.String(), line)
	}
	if n := strings.Count(f.String(), "-> 198.18.0.1"); n != 4 {
		t.Errorf("%d packets, want one sequence of 4:\n%s", n, f.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("keep after its context ended: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("keep still running 5s after its context ended")
	}
}

// failingEvents are address events that cannot subscribe, as in a
// sandbox without netlink; calls counts the tries.
type failingEvents struct {
	mu    sync.Mutex
	calls int
}

func (e *failingEvents) Subscribe(context.Context) (<-chan struct{}, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	return nil, errors.New("netlink socket: operation not permitted")
}

// movingFinder discovers one public address, which the test moves.
type movingFinder struct {
	mu     sync.Mutex
	public netip.Addr
}

func (f *movingFinder) move(to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.public = netip.MustParseAddr(to)
}

func (f *movingFinder) Find(_ context.Context, locals ...netip.Addr) []publicaddr.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]publicaddr.Result, len(locals))
	for i, l := range locals {
		out[i].Local, out[i].Public, out[i].Server = l, f.public, "stun.example:3478"
	}
	return out
}

func (f *movingFinder) Forget(netip.Addr) error { return nil }

// TestKeepFallsBackToPolling: when the address events cannot subscribe,
// keep says so once on standard error, keeps running, and its 2s poll
// finds a change (here the public address a packet knock behind NAT
// claims) and knocks again.
func TestKeepFallsBackToPolling(t *testing.T) {
	h, _, _ := withPacketProfile(t, "127.0.0.1", false)
	fd := &movingFinder{public: netip.MustParseAddr("198.51.100.7")}
	ev := &failingEvents{}
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"keep", "gw1", "--nat", "--wait", "none"}, Env{Env: cli.Env{
			Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return h.env[k] }, Clock: h.clock, Version: "test"},
			Writer: h.writer, Events: ev,
			Finder: func([]string, *publicaddr.Cache) client.Finder { return fd },
		})
	}()
	lines := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := strings.SplitAfter(out.String(), "\n")
			if len(got) > n {
				return got[:n]
			}
			select {
			case err := <-done:
				t.Fatalf("keep returned: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("keep said %d lines within 5s, want %d\nstdout: %s\nstderr: %s", len(got)-1, n, out.String(), errb.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	first := lines(1)[0]
	if want := "gw1: knocked (start; route 127.0.0.1, claim 198.51.100.7): step 60000000 sent to 127.0.0.1\n"; !strings.HasSuffix(first, want) {
		t.Errorf("keep's first line %q, want it to end %q", first, want)
	}
	if err := h.clock.WaitTickers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Second) // a look, no change: no knock
	fd.move("198.51.100.8")
	h.clock.Advance(2 * time.Second)
	second := lines(2)[1]
	if want := "(was route 127.0.0.1, claim 198.51.100.7; route 127.0.0.1, claim 198.51.100.8)"; !strings.Contains(second, want) {
		t.Errorf("keep's second line %q, want it to hold %q", second, want)
	}
	h.clock.Advance(2 * time.Second)
	h.clock.Advance(2 * time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("keep after its context ended: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("keep still running 5s after its context ended")
	}
	const said = "no address events (watching addresses: netlink socket: operation not permitted): looking every 2s instead\n"
	if n := strings.Count(errb.String(), "no address events"); n != 1 || !strings.Contains(errb.String(), said) {
		t.Errorf("stderr said the fallback %d times, want once as %q:\n%s", n, said, errb.String())
	}
	if ev.calls != 1 {
		t.Errorf("%d subscribes, want 1", ev.calls)
	}
	if n := len(strings.SplitAfter(out.String(), "\n")) - 1; n != 2 {
		t.Errorf("keep knocked %d times, want 2 (start, the new public address):\n%s", n, out.String())
	}
}
