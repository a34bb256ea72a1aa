package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

// memStore is an in-memory Store.
type memStore struct{ s profile.Store }

func (m *memStore) List() []profile.Profile { return m.s.Profiles }
func (m *memStore) Add(p profile.Profile) error {
	return m.s.Add(p)
}
func (m *memStore) Remove(name string) error      { return m.s.Remove(name) }
func (m *memStore) Name(p profile.Profile) string { return m.s.DefaultName(p.Account) }

// fakeKnocker reports the profile's sequence for the clock's step as
// sent, then returns out or err.
type fakeKnocker struct {
	clock   *clocktest.Fake
	out     Outcome
	err     error
	calls   int
	packets int  // packets a packet knock reports (1 + resends)
	block   bool // wait for the context's end after the first packet
	// notes are status lines reported before any packet; with block,
	// no packet follows them (a wait for the next step).
	notes []string
}

func (f *fakeKnocker) Knock(ctx context.Context, p profile.Profile, sent func(Sent)) (Outcome, error) {
	f.calls++
	for _, n := range f.notes {
		sent(Sent{Note: n})
	}
	if f.block && len(f.notes) > 0 {
		<-ctx.Done()
		return Outcome{}, fmt.Errorf("knocking: %w", ctx.Err())
	}
	if f.block {
		sent(Sent{Step: derive.Step(f.clock.Now(), p.Params.Period), Knock: derive.Knock{Proto: derive.UDP, Port: 1}, Total: 4})
		<-ctx.Done()
		return Outcome{}, fmt.Errorf("knocking: %w", ctx.Err())
	}
	step := derive.Step(f.clock.Now(), p.Params.Period)
	var src netip.Addr
	if p.BindSource {
		src = netip.MustParseAddr("2001:2::2")
	}
	if p.Knock == derive.ModePacket {
		pd, _ := derive.NewPacket(p.Secret, p.ServerID, p.Params)
		el, _ := pd.Knock(step)
		for i := range f.packets {
			sent(Sent{Step: step, Index: i, Knock: el, Total: 1})
		}
		f.out.Step = step
		return f.out, f.err
	}
	seq, _ := derive.Sequence(p.Secret, p.ServerID, p.Params, step, src)
	for i, k := range seq {
		sent(Sent{Step: step, Index: i, Knock: k, Total: len(seq)})
	}
	f.out.Step = step
	return f.out, f.err
}

type fakeClipboard struct{ got string }

func (f *fakeClipboard) Copy(s string) (string, error) { f.got = s; return "fake clipboard", nil }

func testProfiles() []profile.Profile {
	acct := func(user, host string, open ...derive.Knock) provision.Account {
		return provision.Account{ServerID: "gw1", User: user, Host: host, Secret: []byte(user + "'s secret of 32 bytes......")[:32],
			Params: derive.DefaultParams(), Open: open}
	}
	home := acct("bob", "2001:2::1", derive.Knock{Proto: derive.TCP, Port: 2222})
	home.BindSource = true
	return []profile.Profile{
		{Name: "gw1", Account: acct("alice", "knock.example.org", derive.Knock{Proto: derive.TCP, Port: 22}, derive.Knock{Proto: derive.UDP, Port: 1194})},
		{Name: "home", Account: home},
	}
}

// manyProfiles are n profiles, p01 at h01.example.org and on.
func manyProfiles(n int) []profile.Profile {
	base := testProfiles()[0]
	ps := make([]profile.Profile, n)
	for i := range ps {
		ps[i] = base
		ps[i].Name = fmt.Sprintf("p%02d", i+1)
		ps[i].Host = fmt.Sprintf("h%02d.example.org", i+1)
	}
	return ps
}

// namedProfiles is a profile named after its account, as import
// names it (bob@gw1): the screen says the account once.
func namedProfiles() []profile.Profile {
	ps := testProfiles()[1:]
	ps[0].Name = "bob@gw1"
	return ps
}

// packetProfiles are a packet profile, source-bound (its element does
// not depend on the source), and a sequence profile.
func packetProfiles() []profile.Profile {
	ps := testProfiles()
	ps[1].Knock = derive.ModePacket
	ps[1].Params.Protocols = derive.Protocols(derive.UDP | derive.ICMP)
	ps[1].Name = "relay"
	return ps
}

type fixture struct {
	last  map[string]uint64 // Deps.LastStep's answers
	store *memStore
	kn    *fakeKnocker
	clip  *fakeClipboard
	clock *clocktest.Fake
}

func newFixture(profiles []profile.Profile) (Model, *fixture) {
	c := clocktest.NewFake(derive.StepStart(60000000, 30*time.Second).Add(13 * time.Second).UTC())
	f := &fixture{store: &memStore{}, clip: &fakeClipboard{}, clock: c}
	f.kn = &fakeKnocker{clock: c, packets: 2, out: Outcome{Service: "198.18.0.1:22", Opened: true, Elapsed: 38 * time.Millisecond, Attempts: 1}}
	for _, p := range profiles {
		f.store.s.Add(p)
	}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	f.last = map[string]uint64{}
	lastStep := func(name string) (uint64, bool) { s, ok := f.last[name]; return s, ok }
	m := New(Deps{Store: f.store, Knocker: f.kn, Clipboard: f.clip, Clock: c, LastStep: lastStep}, DefaultKeyMap(), DefaultStyles(r))
	return m, f
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// screen runs the model in teatest at w x h, sends the keys, waits for
// want in the output, and compares the final view with the golden file.
func screen(t *testing.T, m Model, w, h int, keys []string, want string) Model {
	t.Helper()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	for _, k := range keys {
		if strings.HasPrefix(k, "type:") {
			tm.Type(strings.TrimPrefix(k, "type:"))
			continue
		}
		tm.Send(keyMsg(k))
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(5*time.Second))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	golden.RequireEqual(t, []byte(final.View()))
	return final
}

func TestScreens(t *testing.T) {
	failing := func(f *fixture) {
		f.kn.out = Outcome{Service: "198.18.0.1:22", Attempts: 2, Reason: "no answer within 5s"}
	}
	tests := []struct {
		name     string
		profiles []profile.Profile
		w, h     int
		keys     []string
		want     string
		setup    func(*fixture)
	}{
		{"main", testProfiles(), 80, 24, nil, "Knock now", nil},
		{"help", testProfiles(), 80, 24, []string{"?"}, "copy for knock", nil},
		{"import error", testProfiles(), 80, 24, []string{"i", "type:otpauth://totp/x?secret=AAAA", "enter"}, "no otpknock field", nil},
		{"knock success", testProfiles(), 80, 24, []string{"enter"}, "open in 38 ms", nil},
		{"knock failure", testProfiles(), 80, 24, []string{"enter"}, "still closed", failing},
		{"narrow", testProfiles(), 60, 20, nil, "Knock now", nil},
		{"wide", testProfiles(), 120, 30, nil, "Knock now", nil},
		{"empty", nil, 80, 24, nil, "No profiles yet", nil},
		{"filter", testProfiles(), 80, 24, []string{"/", "type:home", "enter"}, "source-bound", nil},
		{"bound profile", testProfiles(), 80, 24, []string{"down"}, "source-bound", nil},
		{"packet profile", packetProfiles(), 80, 24, []string{"down"}, "packet):", nil},
		{"packet knock", packetProfiles(), 80, 24, []string{"down", "enter"}, "open in 38 ms", nil},
		{"40 profiles, 30 down", manyProfiles(40), 80, 24, repeat("down", 30), "p31 at h31", nil},
		{"60x15", testProfiles(), 60, 15, []string{"down"}, "home at", nil},
		{"60x15, 40 profiles", manyProfiles(40), 60, 15, repeat("down", 12), "p13 at", nil},
		{"50x10", manyProfiles(40), 50, 10, repeat("down", 5), "p06 at", nil},
		{"50x10 filter", manyProfiles(40), 50, 10, []string{"/", "type:p2"}, "p20", nil},
		{"delete prompt", testProfiles(), 80, 24, []string{"d"}, "y/N", nil},
		{"step used", testProfiles(), 80, 24, nil, "enter knocks step 60000001", func(f *fixture) { f.last["gw1"] = 60000000 }},
		{"packet step used", packetProfiles(), 80, 24, []string{"down"}, "enter knocks step 60000001", func(f *fixture) { f.last["relay"] = 60000000 }},
		{"knock waits for the next step", testProfiles(), 80, 24, []string{"enter"}, "waiting for the next step", func(f *fixture) {
			f.last["gw1"] = 60000000
			f.kn.block, f.kn.notes = true, []string{"step 60000000 already used by this profile: waiting 17s for the next step"}
		}},
		{"named after the account", namedProfiles(), 80, 24, nil, "source-bound", nil},
		{"import hides the URI", testProfiles(), 80, 24, []string{"i", "type:otpauth://totp/x?secret=AAAA"}, "••••", nil},
		{"copy", testProfiles(), 80, 24, []string{"c"}, "copied (fake", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newFixture(tt.profiles)
			if tt.setup != nil {
				tt.setup(f)
			}
			screen(t, m, tt.w, tt.h, tt.keys, tt.want)
		})
	}
}

// TestTransitions drives Update directly and checks the state.
func TestTransitions(t *testing.T) {
	good, _ := testProfiles()[0].Account.URI()
	tests := []struct {
		name  string
		keys  []string
		check func(*testing.T, Model, *fixture)
	}{
		{"cursor stops at the last profile", []string{"down", "j", "down"}, func(t *testing.T, m Model, _ *fixture) {
			if p, ok := m.selected(); m.cursor != 1 || !ok || p.Name != "home" {
				t.Errorf("cursor %d on %q, want 1 on the last profile, home", m.cursor, p.Name)
			}
		}},
		{"cursor stops at the first profile", []string{"down", "down", "k", "up", "k"}, func(t *testing.T, m Model, _ *fixture) {
			if p, ok := m.selected(); m.cursor != 0 || !ok || p.Name != "gw1" {
				t.Errorf("cursor %d on %q, want 0 on the first profile, gw1", m.cursor, p.Name)
			}
		}},
		{"delete needs confirmation", []string{"d", "n"}, func(t *testing.T, m Model, f *fixture) {
			if len(f.store.List()) != 2 || m.mode != browsing {
				t.Errorf("profiles %d, mode %v", len(f.store.List()), m.mode)
			}
		}},
		{"enter in the delete prompt keeps the profile", []string{"d", "enter"}, func(t *testing.T, m Model, f *fixture) {
			if len(f.store.List()) != 2 || m.mode != browsing || m.status != "kept gw1" {
				t.Errorf("profiles %d, mode %v, status %q", len(f.store.List()), m.mode, m.status)
			}
		}},
		{"esc in the delete prompt keeps the profile", []string{"d", "esc"}, func(t *testing.T, m Model, f *fixture) {
			if len(f.store.List()) != 2 || m.mode != browsing {
				t.Errorf("profiles %d, mode %v", len(f.store.List()), m.mode)
			}
		}},
		{"delete confirmed", []string{"down", "d", "y"}, func(t *testing.T, m Model, f *fixture) {
			if len(f.store.List()) != 1 || f.store.List()[0].Name != "gw1" || !strings.Contains(m.log[0].text, "deleted home") {
				t.Errorf("profiles %v, log %v", f.store.List(), m.log)
			}
		}},
		{"import a URI", []string{"d", "y", "i", "type:" + good, "enter"}, func(t *testing.T, m Model, f *fixture) {
			if m.mode != browsing || len(f.store.List()) != 2 || m.inputErr != "" {
				t.Errorf("mode %v, profiles %d, err %q", m.mode, len(f.store.List()), m.inputErr)
			}
		}},
		{"import esc cancels", []string{"i", "type:junk", "esc"}, func(t *testing.T, m Model, f *fixture) {
			if m.mode != browsing || len(f.store.List()) != 2 {
				t.Errorf("mode %v", m.mode)
			}
		}},
		{"copy in knock form", []string{"c"}, func(t *testing.T, m Model, f *fixture) {
			if !strings.HasPrefix(f.clip.got, "knock knock.example.org ") || strings.Count(f.clip.got, ":") != 4 {
				t.Errorf("copied %q", f.clip.got)
			}
			if want := "copied (fake clipboard): " + f.clip.got; m.status != want {
				t.Errorf("status %q, want %q", m.status, want)
			}
		}},
		{"filter with no match, esc clears", []string{"/", "type:zzz", "esc"}, func(t *testing.T, m Model, _ *fixture) {
			if m.filter.Value() != "" || len(m.visible()) != 2 {
				t.Errorf("filter %q", m.filter.Value())
			}
		}},
		{"esc from a filter with no match keeps the selection", []string{"down", "/", "type:zzz", "esc"}, func(t *testing.T, m Model, _ *fixture) {
			if name := m.selectedName(); name != "home" {
				t.Errorf("selected %q, want home, selected before the filter", name)
			}
		}},
		{"esc from the filter keeps the match selected", []string{"/", "type:home", "esc"}, func(t *testing.T, m Model, _ *fixture) {
			if name := m.selectedName(); name != "home" || m.filter.Value() != "" || len(m.visible()) != 2 {
				t.Errorf("selected %q, filter %q, want home in the whole list", name, m.filter.Value())
			}
		}},
		{"enter keeps the filter and the selection", []string{"/", "type:home", "enter"}, func(t *testing.T, m Model, _ *fixture) {
			if name := m.selectedName(); name != "home" || m.filter.Value() != "home" || m.mode != browsing {
				t.Errorf("selected %q, filter %q, mode %v", name, m.filter.Value(), m.mode)
			}
		}},
		{"the import field hides the URI", []string{"i", "type:" + good}, func(t *testing.T, m Model, _ *fixture) {
			if v := m.View(); strings.Contains(v, "secret=") || !strings.Contains(v, "•••") {
				t.Errorf("import field shows the URI:\n%s", v)
			}
		}},
		{"tab shows the URI", []string{"i", "type:otpauth://x?secret=AB", "tab"}, func(t *testing.T, m Model, _ *fixture) {
			if v := m.View(); !strings.Contains(v, "secret=AB") {
				t.Errorf("import field hides the URI after tab:\n%s", v)
			}
		}},
		{"tab twice hides it again", []string{"i", "type:otpauth://x?secret=AB", "tab", "tab"}, func(t *testing.T, m Model, _ *fixture) {
			if v := m.View(); strings.Contains(v, "secret=AB") {
				t.Errorf("import field shows the URI after tab tab:\n%s", v)
			}
		}},
		{"packet profile copies nothing", []string{"down"}, func(t *testing.T, m Model, f *fixture) {
			m.deps.Store = &memStore{}
			m.profiles = packetProfiles()
			m.copySequence()
			if f.clip.got != "" || !strings.Contains(m.status, "knock client cannot send") {
				t.Errorf("copied %q, status %q", f.clip.got, m.status)
			}
		}},
		{"icmp profile copies nothing", nil, func(t *testing.T, m Model, f *fixture) {
			m.deps.Store = &memStore{}
			m.profiles = testProfiles()
			m.profiles[0].Params.Protocols = derive.Protocols(derive.ICMP)
			m.copySequence()
			if want := "icmp knocks cannot be sent by the knock client"; f.clip.got != "" || !strings.HasPrefix(m.status, want) {
				t.Errorf("copied %q, status %q; want nothing, %q", f.clip.got, m.status, want)
			}
		}},
		{"keys wait while knocking", []string{"enter", "q"}, func(t *testing.T, m Model, _ *fixture) {
			if m.mode != knocking {
				t.Errorf("mode %v, want knocking (q ignored until done)", m.mode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f := newFixture(testProfiles())
			var model tea.Model = m
			for _, k := range tt.keys {
				if strings.HasPrefix(k, "type:") {
					for _, r := range strings.TrimPrefix(k, "type:") {
						model, _ = model.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
					}
					continue
				}
				model, _ = model.Update(keyMsg(k))
			}
			tt.check(t, model.(Model), f)
		})
	}
}

func TestKnockErrorIsLogged(t *testing.T) {
	m, f := newFixture(testProfiles())
	f.kn.err = errors.New("resolving knock.example.org: no such host")
	final := screen(t, m, 80, 24, []string{"enter"}, "no such host")
	if len(final.log) != 1 || final.log[0].ok {
		t.Errorf("log %+v", final.log)
	}
}

func repeat(k string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = k
	}
	return keys
}

// TestEscCancelsKnock: esc during a knock cancels its context; the
// knock ends at once, logged as cancelled, and keys work again.
func TestEscCancelsKnock(t *testing.T) {
	m, f := newFixture(testProfiles())
	f.kn.block = true
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	tm.Send(keyMsg("enter"))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("esc cancels")) },
		teatest.WithDuration(5*time.Second))
	tm.Send(keyMsg("esc"))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("knock cancelled")) },
		teatest.WithDuration(5*time.Second))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if final.mode != browsing || len(final.log) != 1 || final.log[0].ok || final.log[0].text != "gw1: knock cancelled" {
		t.Errorf("mode %v, log %+v", final.mode, final.log)
	}
	if final.knock == nil || final.knock.err == nil || final.knock.err.Error() != "cancelled" {
		t.Errorf("knock state %+v", final.knock)
	}
}

// TestScreenFits moves the cursor through 40 profiles at many sizes:
// the screen never grows past the terminal, no line is wider, the
// header says what enter knocks and the list shows the cursor.
func TestScreenFits(t *testing.T) {
	for _, w := range []int{30, 50, 60, 69, 70, 120} {
		for _, h := range []int{8, 10, 15, 24, 40} {
			t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
				m, _ := newFixture(manyProfiles(40))
				var model tea.Model = m
				model, _ = model.Update(tea.WindowSizeMsg{Width: w, Height: h})
				moves := append(repeat("down", 39), repeat("up", 39)...)
				for i, k := range append(moves, repeat("down", 17)...) {
					model, _ = model.Update(keyMsg(k))
					m := model.(Model)
					want := m.selectedName()
					checkFits(t, fmt.Sprintf("after %d moves", i+1), m.View(), w, h, want)
				}
			})
		}
	}
}

func checkFits(t *testing.T, when, view string, w, h int, selected string) {
	t.Helper()
	plain := ansi.Strip(view)
	lines := strings.Split(plain, "\n")
	if len(lines) > h {
		t.Fatalf("%s: %d lines on a %d-line terminal:\n%s", when, len(lines), h, plain)
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			t.Fatalf("%s: line %d is %d cells on a %d-cell terminal: %q", when, i, ansi.StringWidth(l), w, l)
		}
	}
	if w >= 30 && !strings.HasPrefix(lines[0], "otpknock · enter knocks "+selected) {
		t.Fatalf("%s: header %q does not say enter knocks %s", when, lines[0], selected)
	}
	if !strings.Contains(plain, "▸ "+selected) {
		t.Fatalf("%s: the cursor on %s is not on the screen:\n%s", when, selected, plain)
	}
}

// TestStepUsedShowsNextSequence: after a knock in this step the panel
// shows the sequence enter sends, the next step's, and when it starts.
func TestStepUsedShowsNextSequence(t *testing.T) {
	m, f := newFixture(testProfiles())
	f.last["gw1"] = 60000000
	p := testProfiles()[0]
	next, err := derive.Sequence(p.Secret, p.ServerID, p.Params, 60000001, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	view := ansi.Strip(m.View())
	if !strings.Contains(view, "enter knocks step 60000001") {
		t.Errorf("view does not say which step enter knocks:\n%s", view)
	}
	for i, k := range next {
		if !strings.Contains(view, fmt.Sprintf("%d %v", i+1, k)) {
			t.Errorf("view lacks knock %d %v of step 60000001:\n%s", i+1, k, view)
		}
	}
}
