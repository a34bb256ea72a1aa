package clientcmd

import (
	"bytes"
	"context"
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
