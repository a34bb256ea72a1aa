package tui

import (
	"context"
	"fmt"

	"github.com/charmbracelet/bubbles/key"
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
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
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

func (m Model) onKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if k.String() == "ctrl+c" {
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
		return m, nil // keys wait for the knock to finish
	}
	m.status = ""
	switch {
	case key.Matches(k, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(k, m.keys.Up):
		m.cursor = max(0, m.cursor-1)
	case key.Matches(k, m.keys.Down):
		m.cursor = min(len(m.visible())-1, m.cursor+1)
	case key.Matches(k, m.keys.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(k, m.keys.Filter):
		m.mode = filtering
		return m, m.filter.Focus()
	case key.Matches(k, m.keys.Import):
		m.mode, m.inputErr = importing, ""
		m.input.SetValue("")
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

func (m Model) onFilterKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "esc":
		m.filter.SetValue("")
		fallthrough
	case "enter":
		m.mode = browsing
		m.filter.Blur()
		m.cursor = 0
		return m, nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(k)
	m.cursor = 0
	return m, cmd
}

func (m Model) onImportKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "esc":
		m.mode = browsing
		m.input.Blur()
		return m, nil
	case "enter":
		return m.importURI(), nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	m.inputErr = ""
	return m, cmd
}

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
	m.filter.SetValue("")
	for i, q := range m.profiles {
		if q.Name == p.Name {
			m.cursor = i
		}
	}
	m.addLog("imported "+p.Name+" ("+acct.User+"@"+acct.ServerID+")", true)
	return m
}

func (m Model) onConfirmKey(k tea.KeyMsg) Model {
	m.mode = browsing
	if !key.Matches(k, m.keys.Confirm) {
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
		m.status = "icmp knocks cannot be sent by the knock client: press enter to knock"
		return
	}
	text := "knock " + p.Host + " " + args
	if m.deps.Clipboard == nil {
		m.status = "no clipboard available"
		return
	}
	if err := m.deps.Clipboard.Copy(text); err != nil {
		m.status = "clipboard: " + err.Error()
		return
	}
	m.status = "copied: " + text
}

func (m Model) startKnock() (tea.Model, tea.Cmd) {
	p, ok := m.selected()
	if !ok {
		return m, nil
	}
	ks := &knockState{profile: p.Name, packet: p.Knock == derive.ModePacket, events: make(chan Sent, derive.MaxKnocks+1)}
	m.knock, m.mode = ks, knocking
	run := func() tea.Msg {
		out, err := m.deps.Knocker.Knock(context.Background(), p, func(s Sent) { ks.events <- s })
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

func (m Model) onSent(s Sent) (tea.Model, tea.Cmd) {
	if m.knock == nil {
		return m, nil
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
	switch {
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
