package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/sender"
)

// FileStore is the Store of the client's profile file.
type FileStore struct{ S *profile.Store }

// List returns the profiles.
func (f FileStore) List() []profile.Profile { return f.S.Profiles }

// Add adds p and saves.
func (f FileStore) Add(p profile.Profile) error {
	if err := f.S.Add(p); err != nil {
		return err
	}
	return f.S.Save()
}

// Remove removes the profile and saves.
func (f FileStore) Remove(name string) error {
	if err := f.S.Remove(name); err != nil {
		return err
	}
	return f.S.Save()
}

// Name proposes a free name.
func (f FileStore) Name(p profile.Profile) string { return f.S.DefaultName(p.Account) }

// SenderKnocker knocks through the client's knock path (package
// client), as send does: the profile's host over the resolver's first
// address, a packet profile's claim, a wait for the profile's first TCP
// service, retries in later steps, used steps recorded in Client.State.
type SenderKnocker struct {
	Client  client.Client // its OnSent is set per knock
	Retries int
	Timeout time.Duration // per attempt, for the service to answer
}

// Knock sends p's knock; sent is called after each packet.
func (k SenderKnocker) Knock(ctx context.Context, p profile.Profile, sent func(Sent)) (Outcome, error) {
	c := k.Client
	c.OnSent = func(step uint64, i int, kk derive.Knock, total int) {
		sent(Sent{Step: step, Index: i, Knock: kk, Total: total})
	}
	c.Status = noteWriter(func(line string) { sent(Sent{Note: line}) })
	o := client.Options{Timeout: k.Timeout}
	o.Wait, _ = client.DefaultService(p)
	pl, err := c.Plan(ctx, p, o)
	if err != nil {
		return Outcome{}, err
	}
	for _, r := range pl.Public {
		sent(Sent{Note: "public address: " + r.String()})
	}
	got, err := c.Knock(ctx, pl, k.Retries)
	out := Outcome{Step: got.Result.Step, Opened: err == nil && pl.Wait != nil, Elapsed: got.Elapsed, Attempts: got.Attempts}
	if pl.Wait != nil {
		out.Service = pl.Wait.Addr.String()
	}
	if got.Conn != nil {
		got.Conn.Close()
	}
	if errors.Is(err, sender.ErrStillClosed) {
		out.Attempts = k.Retries + 1
		out.Reason = fmt.Sprintf("no answer within %s", k.Timeout)
		return out, nil
	}
	return out, err
}

// noteWriter is an io.Writer that hands each line written to it to a
// function: the client's status lines, for the knock's panel.
type noteWriter func(line string)

func (w noteWriter) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w(line)
		}
	}
	return len(b), nil
}

// ExecClipboard copies with the clipboard tool of its OS and, when
// there is none (a server reached over ssh, a console without X), with
// an OSC 52 escape sequence to the terminal, which most terminals take
// as a copy to the clipboard of the machine in front of the user.
type ExecClipboard struct {
	Terminal io.Writer           // the terminal the TUI draws on; nil: no OSC 52
	Getenv   func(string) string // the environment; nil: none
}

// Copy pipes text to the first clipboard tool found that works: pbcopy
// on macOS (not over ssh), clip on Windows, else wl-copy under Wayland,
// xclip or xsel under X. Failing those it writes OSC 52 to Terminal,
// escaped for tmux or screen when inside one. It returns what copied.
func (c ExecClipboard) Copy(text string) (string, error) {
	getenv := c.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var failed []string
	for _, t := range clipboardTools(runtime.GOOS, getenv) {
		if _, err := exec.LookPath(t[0]); err != nil {
			continue
		}
		cmd := exec.Command(t[0], t[1:]...)
		cmd.Stdin = strings.NewReader(text)
		if err := cmd.Run(); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", t[0], err))
			continue
		}
		return t[0], nil
	}
	if c.Terminal != nil {
		if _, err := osc52Sequence(text, getenv).WriteTo(c.Terminal); err != nil {
			return "", fmt.Errorf("writing OSC 52 to the terminal: %w", err)
		}
		return "sent to the terminal, OSC 52", nil
	}
	if len(failed) > 0 {
		return "", errors.New(strings.Join(failed, "; "))
	}
	return "", errors.New("no clipboard tool and no terminal to send OSC 52 to")
}

// osc52Sequence is text's OSC 52 copy, wrapped for tmux or screen when
// the environment says it runs inside one.
func osc52Sequence(text string, getenv func(string) string) osc52.Sequence {
	seq := osc52.New(text)
	switch {
	case getenv("TMUX") != "":
		return seq.Tmux()
	case strings.HasPrefix(getenv("TERM"), "screen"):
		return seq.Screen()
	}
	return seq
}

// clipboardTools returns the commands that copy standard input to the
// clipboard on goos, in the order tried, given the environment: the
// X and Wayland tools only with a display, pbcopy not over ssh (it
// would fill the clipboard of the far machine).
func clipboardTools(goos string, getenv func(string) string) [][]string {
	switch goos {
	case "darwin":
		if getenv("SSH_CONNECTION") != "" || getenv("SSH_TTY") != "" {
			return nil
		}
		return [][]string{{"pbcopy"}}
	case "windows":
		return [][]string{{"clip"}}
	}
	var tools [][]string
	if getenv("WAYLAND_DISPLAY") != "" {
		tools = append(tools, []string{"wl-copy"})
	}
	if getenv("DISPLAY") != "" {
		tools = append(tools, []string{"xclip", "-selection", "clipboard"}, []string{"xsel", "--clipboard", "--input"})
	}
	return tools
}
