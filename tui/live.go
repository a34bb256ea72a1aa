package tui

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

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
	o := client.Options{Timeout: k.Timeout}
	o.Wait, _ = client.DefaultService(p)
	pl, err := c.Plan(ctx, p, o)
	if err != nil {
		return Outcome{}, err
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

// ExecClipboard copies with the first clipboard tool of its OS found on
// PATH.
type ExecClipboard struct{}

// Copy pipes text to the clipboard tool: pbcopy on macOS, clip on
// Windows, else wl-copy, xclip or xsel.
func (ExecClipboard) Copy(text string) error {
	tools := clipboardTools(runtime.GOOS)
	for _, c := range tools {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Stdin = strings.NewReader(text)
		return cmd.Run()
	}
	names := make([]string, len(tools))
	for i, c := range tools {
		names[i] = c[0]
	}
	return fmt.Errorf("no clipboard tool (%s) found", strings.Join(names, ", "))
}

// clipboardTools returns the commands that copy standard input to the
// clipboard on goos, in the order tried.
func clipboardTools(goos string) [][]string {
	switch goos {
	case "darwin":
		return [][]string{{"pbcopy"}}
	case "windows":
		return [][]string{{"clip"}}
	}
	return [][]string{{"wl-copy"}, {"xclip", "-selection", "clipboard"}, {"xsel", "--clipboard", "--input"}}
}
