package clientcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/clock/clocktest"
	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal: the master (the
// user's keyboard and screen) and the terminal the command reads.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	// Non-blocking, so that reads of the screen honour a deadline.
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// echoOff waits until the terminal no longer echoes: the command reads.
func echoOff(t *testing.T, tty *os.File) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if st.Lflag&unix.ECHO == 0 {
			return
		}
	}
	t.Fatal("the terminal still echoes after 5s")
}

// TestImportTerminal checks import - on a terminal: a prompt, one line
// ended by Enter imports without echoing the secret; an interrupt
// (Ctrl-C) ends the wait and gives the terminal its echo back.
func TestImportTerminal(t *testing.T) {
	h := newHarness(t)
	_, uri := fixture(t, "alice", nil)

	run := func(ctx context.Context, tty *os.File) (chan error, *syncBuffer) {
		stderr := &syncBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, []string{"import", "-"}, Env{Env: cli.Env{Stdin: tty, Stdout: &bytes.Buffer{}, Stderr: stderr,
				Getenv: func(k string) string { return h.env[k] }, Clock: clocktest.NewFake(time.Unix(1_800_000_017, 0))}})
		}()
		return done, stderr
	}

	t.Run("enter", func(t *testing.T) {
		master, tty := openPTY(t)
		done, stderr := run(context.Background(), tty)
		echoOff(t, tty)
		if _, err := master.WriteString(uri + "\r"); err != nil { // Enter sends CR
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("import -: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("import - did not end at Enter")
		}
		if !strings.HasPrefix(stderr.String(), "Paste the otpauth:// URI and press Enter") {
			t.Errorf("prompt %q", stderr.String())
		}
		master.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		screen := make([]byte, 4096)
		n, _ := master.Read(screen)
		if strings.Contains(string(screen[:n]), "secret=") {
			t.Errorf("the terminal echoed the URI: %q", screen[:n])
		}
		if out := h.mustRun("", "profiles"); !strings.Contains(out, "gw1") {
			t.Errorf("no profile imported:\n%s", out)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		_, tty := openPTY(t)
		ctx, cancel := context.WithCancel(context.Background())
		done, _ := run(ctx, tty)
		echoOff(t, tty)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("interrupted import -: %v, want it canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("import - ignored the interrupt")
		}
		st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil || st.Lflag&unix.ECHO == 0 {
			t.Errorf("the terminal does not echo after the interrupt (%v)", err)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
