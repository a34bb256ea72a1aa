package tui

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender/sendertest"
)

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestClipboardTools(t *testing.T) {
	tests := []struct {
		name string
		goos string
		env  map[string]string
		want []string
	}{
		{"linux console, ssh", "linux", map[string]string{"SSH_TTY": "/dev/pts/1"}, nil},
		{"wayland", "linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, []string{"wl-copy"}},
		{"x", "freebsd", map[string]string{"DISPLAY": ":0"}, []string{"xclip", "xsel"}},
		{"xwayland", "linux", map[string]string{"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, []string{"wl-copy", "xclip", "xsel"}},
		{"macOS", "darwin", nil, []string{"pbcopy"}},
		{"macOS over ssh", "darwin", map[string]string{"SSH_CONNECTION": "198.18.0.2 50000 198.18.0.1 22"}, nil},
		{"windows", "windows", nil, []string{"clip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range clipboardTools(tt.goos, envOf(tt.env)) {
				got = append(got, c[0])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("clipboardTools(%s) (-want +got):\n%s", tt.goos, diff)
			}
		})
	}
}

// TestCopyOSC52: without a clipboard tool the text goes to the terminal
// as an OSC 52 sequence, wrapped for tmux inside tmux.
func TestCopyOSC52(t *testing.T) {
	text := "knock knock.example.org 23929:udp 39470:udp"
	b64 := base64.StdEncoding.EncodeToString([]byte(text))
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"plain terminal", map[string]string{"TERM": "xterm-256color"}, "\x1b]52;c;" + b64 + "\x07"},
		{"no display over ssh", map[string]string{"SSH_TTY": "/dev/pts/1", "DISPLAY": ""}, "\x1b]52;c;" + b64 + "\x07"},
		{"tmux", map[string]string{"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "screen"}, "\x1bPtmux;\x1b\x1b]52;c;" + b64 + "\x07\x1b\\"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir()) // no clipboard tool
			var term bytes.Buffer
			via, err := ExecClipboard{Terminal: &term, Getenv: envOf(tt.env)}.Copy(text)
			if err != nil || via != "sent to the terminal, OSC 52" {
				t.Fatalf("Copy = %q, %v", via, err)
			}
			if term.String() != tt.want {
				t.Errorf("terminal got %q, want %q", term.String(), tt.want)
			}
		})
	}
	t.Run("no terminal", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if via, err := (ExecClipboard{}).Copy(text); err == nil || !strings.Contains(err.Error(), "no clipboard tool") {
			t.Errorf("Copy = %q, %v; want an error naming the missing tool", via, err)
		}
	})
}

// TestCopyTool: a clipboard tool that works gets the text and the
// terminal gets nothing; one that fails falls back to OSC 52.
func TestCopyTool(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skipf("the fake tool is a wl-copy shell script; %s uses its own tool", runtime.GOOS)
	}
	for _, tt := range []struct {
		name, script, via string
		osc               bool
	}{
		{"works", "#!/bin/sh\ncat > \"$OUT\"\n", "wl-copy", false},
		{"fails", "#!/bin/sh\ncat > \"$OUT\"\nexit 1\n", "sent to the terminal, OSC 52", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "wl-copy"), []byte(tt.script), 0o755); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "copied")
			t.Setenv("PATH", dir+string(os.PathListSeparator)+"/bin:/usr/bin")
			t.Setenv("OUT", out)
			var term bytes.Buffer
			via, err := ExecClipboard{Terminal: &term, Getenv: envOf(map[string]string{"WAYLAND_DISPLAY": "wayland-0"})}.Copy("knock h 1:udp")
			if err != nil || via != tt.via {
				t.Fatalf("Copy = %q, %v, want %q", via, err, tt.via)
			}
			if got, _ := os.ReadFile(out); string(got) != "knock h 1:udp" {
				t.Errorf("tool read %q", got)
			}
			if (term.Len() > 0) != tt.osc {
				t.Errorf("terminal got %q, want OSC 52: %v", term.String(), tt.osc)
			}
		})
	}
}

// earlyClock wakes from sleeps longer than a second 2 ms early, as a
// timer on the monotonic clock does while the wall clock is slewed.
type earlyClock struct{ *clocktest.Fake }

func (e earlyClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > time.Second {
		d -= 2 * time.Millisecond
	}
	return e.Fake.Sleep(ctx, d)
}

// TestKnockAfterAKnockInThisStep: enter after a knock in this step waits
// for the next step, knocks it and finds the door open: one sequence,
// not a second step's. The server here opens for the next step's
// sequence only (the used step's is a replay), so a knock that resent
// the used step's sequence after a timer woke early kept the TUI
// spinning for another step.
func TestKnockAfterAKnockInThisStep(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	c := clocktest.NewFake(start.Add(13 * time.Second))
	f := &sendertest.Fake{Clock: c, Start: start}
	p := testProfiles()[0]
	next, err := derive.Sequence(p.Secret, p.ServerID, p.Params, 60000001, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	last := next[len(next)-1].String() + " -> "
	granted := func(time.Time) bool { return strings.Contains(f.String(), last) }
	st := &memState{last: map[string]uint64{p.Name: 60000000}}
	var notes []string
	k := SenderKnocker{Retries: 1, Timeout: 2 * time.Second, Client: client.Client{Clock: earlyClock{c}, Writer: f, State: st,
		Route:  func(netip.Addr) (netip.Addr, error) { return netip.MustParseAddr("198.18.0.2"), nil },
		Prober: &sendertest.FakeProber{Clock: c, Open: granted}, Resolver: oneAddr{}}}
	out, err := k.Knock(context.Background(), p, func(s Sent) {
		if s.Note != "" {
			notes = append(notes, s.Note)
		}
	})
	if err != nil || !out.Opened || out.Attempts != 1 || out.Step != 60000001 {
		t.Errorf("outcome %+v, %v; want opened by step 60000001's sequence, attempt 1\npackets:\n%s", out, err, f)
	}
	if len(notes) == 0 || !strings.Contains(notes[0], "step 60000000 already used by this profile: waiting 17s for the next step") {
		t.Errorf("status lines %q, want the wait for the next step", notes)
	}
}

// memState is the client's state in memory.
type memState struct{ last map[string]uint64 }

func (m *memState) LastStep(name string) (uint64, bool) { s, ok := m.last[name]; return s, ok }
func (m *memState) Record(name string, step uint64) error {
	m.last[name] = step
	return nil
}

// oneAddr resolves every host to 198.18.0.1.
type oneAddr struct{}

func (oneAddr) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("198.18.0.1")}, nil
}
