package tui

import (
	"context"
	"errors"
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

type (
	sentMsg Sent
	doneMsg struct {
		out Outcome
		err error
	}
)

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	next, cmd := m.update(msg)
	return next.scrolled(), cmd
}

func (m Model) update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case tickMsg:
		return m, tick()
	case sentMsg:
		return m.onSent(Sent(msg))
	case doneMsg:
		return m.onDone(msg), nil
	case tea.KeyMsg:
		return m.onKey(msg)
	}
	if m.mode == knocking {
		var cmd tea.Cmd
		m.spinner, cmd = m.spinner.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m Model) onKey(k tea.KeyMsg) (Model, tea.Cmd) {
	if k.String() == "ctrl+c" {
		if m.knock != nil && m.knock.cancel != nil {
			m.knock.cancel()
		}
		return m, tea.Quit
	}
	switch m.mode {
	case filtering:
		return m.onFilterKey(k)
	case importing:
		return m.onImportKey(k)
	case confirmDelete:
		return m.onConfirmKey(k), nil
	case knocking:
		return m.onKnockingKey(k), nil
	}
	m.status = ""
	switch {
	case key.Matches(k, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(k, m.keys.Up):
		m.cursor = max(0, m.cursor-1)
	case key.Matches(k, m.keys.Down):
		m.cursor = max(0, min(len(m.visible())-1, m.cursor+1))
	case key.Matches(k, m.keys.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(k, m.keys.Filter):
		m.mode = filtering
		if p, ok := m.selected(); ok {
			m.before = p.Name
		}
		return m, m.filter.Focus()
	case key.Matches(k, m.keys.Import):
		m.mode, m.inputErr = importing, ""
		m.input.SetValue("")
		m.input.EchoMode = textinput.EchoPassword
		return m, m.input.Focus()
	case key.Matches(k, m.keys.Delete):
		if _, ok := m.selected(); ok {
			m.mode = confirmDelete
		}
	case key.Matches(k, m.keys.Copy):
		m.copySequence()
	case key.Matches(k, m.keys.Knock):
		return m.startKnock()
	}
	return m, nil
}

// onKnockingKey: during a knock only Cancel (and ctrl+c) do anything.
func (m Model) onKnockingKey(k tea.KeyMsg) Model {
	if key.Matches(k, m.keys.Cancel) && m.knock != nil && m.knock.cancel != nil {
		m.knock.cancel()
		m.knock.stopped = true
		m.status = "cancelling the knock of " + m.knock.profile
	}
	return m
}

// onFilterKey edits the filter. Enter keeps it and esc clears it; both
// keep the profile under the cursor selected (or, when no profile
// matches, the one selected before).
func (m Model) onFilterKey(k tea.KeyMsg) (Model, tea.Cmd) {
	switch k.String() {
	case "esc", "enter":
		name := m.before
		if p, ok := m.selected(); ok {
			name = p.Name
		}
		if k.String() == "esc" {
			m.filter.SetValue("")
		}
		m.mode = browsing
		m.filter.Blur()
		m.cursor = 0
		m.selectName(name)
		return m, nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(k)
	m.cursor = 0
	return m, cmd
}

func (m Model) onImportKey(k tea.KeyMsg) (Model, tea.Cmd) {
	switch {
	case key.Matches(k, m.keys.Cancel):
		m.mode = browsing
		m.input.Blur()
		m.input.SetValue("")
		return m, nil
	case k.String() == "enter":
		return m.importURI(), nil
	case key.Matches(k, m.keys.Reveal):
		if m.revealed() {
			m.input.EchoMode = textinput.EchoPassword
		} else {
			m.input.EchoMode = textinput.EchoNormal
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.inputErr = ""
	return m, cmd
}

// revealed reports whether the URI being imported shows in clear.
func (m Model) revealed() bool { return m.input.EchoMode == textinput.EchoNormal }

func (m Model) importURI() Model {
	acct, err := provision.ParseURI(m.input.Value())
	if err == nil && acct.Host == "" {
		err = fmt.Errorf("the URI names no host to knock: import it with otpknock import --host")
	}
	if err != nil {
		m.inputErr = err.Error()
		return m
	}
	p := profile.Profile{Account: acct}
	p.Name = m.deps.Store.Name(p)
	if err := m.deps.Store.Add(p); err != nil {
		m.inputErr = err.Error()
		return m
	}
	m.profiles = m.deps.Store.List()
	m.mode = browsing
	m.input.Blur()
	m.input.SetValue("")
	m.filter.SetValue("")
	m.selectName(p.Name)
	m.addLog("imported "+p.Name+" ("+acct.User+"@"+acct.ServerID+")", true)
	return m
}

// onConfirmKey answers the delete prompt: only Confirm deletes; enter,
// n, esc and any other key keep the profile.
func (m Model) onConfirmKey(k tea.KeyMsg) Model {
	m.mode = browsing
	if !key.Matches(k, m.keys.Confirm) {
		m.status = "kept " + m.selectedName()
		return m
	}
	p, ok := m.selected()
	if !ok {
		return m
	}
	if err := m.deps.Store.Remove(p.Name); err != nil {
		m.status = err.Error()
		return m
	}
	m.profiles = m.deps.Store.List()
	m.cursor = max(0, min(m.cursor, len(m.visible())-1))
	m.addLog("deleted "+p.Name, true)
	return m
}

// copySequence copies the current sequence in the knock client's form.
func (m *Model) copySequence() {
	p, ok := m.selected()
	if !ok {
		return
	}
	seq, _, err := m.current(p)
	if err != nil {
		m.status = err.Error()
		return
	}
	if p.Knock == derive.ModePacket {
		m.status = "a packet knock carries a MAC, which the knock client cannot send: press enter to knock"
		return
	}
	args, ok := derive.Knocks(seq).KnockArgs()
	if !ok {
		m.status = unclassic(seq) + " knocks cannot be sent by the knock client: press enter to knock"
		return
	}
	text := "knock " + p.Host + " " + args
	if m.deps.Clipboard == nil {
		m.status = "no clipboard; the knock is: " + text
		return
	}
	via, err := m.deps.Clipboard.Copy(text)
	if err != nil {
		m.status = "clipboard: " + err.Error() + "; the knock is: " + text
		return
	}
	m.status = "copied (" + via + "): " + text
}

func (m Model) startKnock() (Model, tea.Cmd) {
	p, ok := m.selected()
	if !ok {
		return m, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ks := &knockState{profile: p.Name, packet: p.Knock == derive.ModePacket, events: make(chan Sent, derive.MaxKnocks+1), cancel: cancel}
	m.knock, m.mode = ks, knocking
	run := func() tea.Msg {
		defer cancel()
		out, err := m.deps.Knocker.Knock(ctx, p, func(s Sent) {
			select {
			case ks.events <- s:
			case <-ctx.Done():
			}
		})
		close(ks.events)
		return doneMsg{out: out, err: err}
	}
	return m, tea.Batch(m.spinner.Tick, run, wait(ks.events))
}

// wait delivers the next packet report of a knock.
func wait(ch <-chan Sent) tea.Cmd {
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return nil
		}
		return sentMsg(s)
	}
}

func (m Model) onSent(s Sent) (Model, tea.Cmd) {
	if m.knock == nil {
		return m, nil
	}
	if s.Note != "" {
		m.knock.notes = append(m.knock.notes, s.Note)
		if len(m.knock.notes) > noteLines {
			m.knock.notes = m.knock.notes[len(m.knock.notes)-noteLines:]
		}
		return m, wait(m.knock.events)
	}
	if s.Step != m.knock.step {
		m.knock.step, m.knock.sent, m.knock.packets = s.Step, nil, 0 // a retry in a later step
	}
	m.knock.total = s.Total
	m.knock.packets++
	if !m.knock.packet || len(m.knock.sent) == 0 {
		m.knock.sent = append(m.knock.sent, s.Knock)
	}
	return m, wait(m.knock.events)
}

func (m Model) onDone(d doneMsg) Model {
	if m.knock == nil {
		return m
	}
	m.mode = browsing
	m.knock.done, m.knock.out, m.knock.err = true, d.out, d.err
	name := m.knock.profile
	m.status = ""
	switch {
	case d.err != nil && (m.knock.stopped || errors.Is(d.err, context.Canceled)):
		m.knock.err = errors.New("cancelled")
		m.addLog(name+": knock cancelled", false)
	case d.err != nil:
		m.addLog(name+": "+d.err.Error(), false)
	case d.out.Service == "":
		m.addLog(fmt.Sprintf("%s: knocked (step %d)", name, d.out.Step), true)
	case d.out.Opened:
		m.addLog(fmt.Sprintf("%s: %s open in %d ms%s", name, d.out.Service, d.out.Elapsed.Milliseconds(), attempts(d.out.Attempts)), true)
	default:
		m.addLog(fmt.Sprintf("%s: %s still closed%s%s", name, d.out.Service, reason(d.out.Reason), attempts(d.out.Attempts)), false)
	}
	return m
}

func attempts(n int) string {
	if n > 1 {
		return fmt.Sprintf(" (after %d sequences)", n)
	}
	return ""
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

// selectedName is the name of the profile under the cursor, or "".
func (m Model) selectedName() string {
	p, _ := m.selected()
	return p.Name
}

// unclassic names the protocol of the first knock of seq that the knock
// client cannot send ([derive.ProtoInfo.Classic]).
func unclassic(seq []derive.Knock) string {
	for _, k := range seq {
		if r, _ := k.Proto.Info(); !r.Classic {
			return k.Proto.String()
		}
	}
	return "these"
}
