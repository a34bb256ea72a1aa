package tui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"github.com/otpknock/otpknock/clock"
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

// SenderKnocker knocks with the kernel writer, waits for the profile's
// first TCP service, retries in later steps, and records used steps.
type SenderKnocker struct {
	Clock   clock.Clock
	State   *profile.State
	Gap     time.Duration
	Retries int
	Timeout time.Duration // per attempt, for the service to answer
}

// Knock sends p's sequence; sent is called after each packet.
func (k SenderKnocker) Knock(ctx context.Context, p profile.Profile, sent func(Sent)) (Outcome, error) {
	dst, err := resolve(ctx, p.Host)
	if err != nil {
		return Outcome{}, err
	}
	req := sender.Request{Secret: p.Secret, ServerID: p.ServerID, Params: p.Params, Dst: dst}
	req.LastStep, req.HaveLast = k.State.LastStep(p.Name)
	if p.BindSource {
		if req.Src, err = sender.RouteSource(dst); err != nil {
			return Outcome{}, err
		}
	}
	kn := &sender.Knocker{Clock: k.Clock, Writer: &sender.Kernel{}, Gap: k.Gap,
		OnSent: func(step uint64, i int, kk derive.Knock, total int) {
			sent(Sent{Step: step, Index: i, Knock: kk, Total: total})
		}}
	var w *sender.Wait
	for _, s := range p.Open {
		if s.Proto == derive.TCP {
			w = &sender.Wait{Prober: sender.Dialer{}, Addr: netip.AddrPortFrom(dst, s.Port), Timeout: k.Timeout}
			break
		}
	}
	got, err := kn.Open(ctx, req, w, k.Retries, func(r sender.Result) error { return k.State.Record(p.Name, r.Step) })
	out := Outcome{Step: got.Result.Step, Opened: err == nil && w != nil, Elapsed: got.Elapsed, Attempts: got.Attempts}
	if w != nil {
		out.Service = w.Addr.String()
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

func resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("resolving %s: %v", host, err)
	}
	return addrs[0].Unmap(), nil
}

// ExecClipboard copies with the first clipboard tool found on PATH.
type ExecClipboard struct{}

// Copy pipes text to wl-copy, xclip, xsel or pbcopy.
func (ExecClipboard) Copy(text string) error {
	for _, c := range [][]string{{"wl-copy"}, {"xclip", "-selection", "clipboard"}, {"xsel", "--clipboard", "--input"}, {"pbcopy"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Stdin = strings.NewReader(text)
		return cmd.Run()
	}
	return errors.New("no clipboard tool (wl-copy, xclip, xsel, pbcopy) found")
}
