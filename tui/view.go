package tui

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
)

// listWidth is the profile list's width in the two-column layout.
const listWidth = 26

// View renders the screen.
func (m Model) View() string {
	title := m.st.Title.Render("otpknock") + m.st.Dim.Render(" · one-time knocks")
	var body string
	switch {
	case len(m.profiles) == 0 && m.mode != importing:
		body = m.st.Panel.Width(m.width - 4).Render(m.emptyView())
	case m.mode == importing:
		body = m.st.Panel.Width(m.width - 4).Render(m.importView())
	case m.width < 70:
		body = lipgloss.JoinVertical(lipgloss.Left, m.listView(m.width-4, 4), m.detailView(m.width-4))
	default:
		inner := m.height - 4 - logLines - 3
		body = lipgloss.JoinHorizontal(lipgloss.Top, m.listView(listWidth, inner), m.detailView(m.width-listWidth-8))
	}
	parts := []string{title, body, m.logView()}
	if m.status != "" {
		parts = append(parts, m.st.Dim.Render(m.status))
	}
	parts = append(parts, m.help.View(m.keys))
	return lipgloss.JoinVertical(lipgloss.Left, parts...)
}

func (m Model) emptyView() string {
	return strings.Join([]string{
		m.st.PanelTitle.Render("No profiles yet"),
		"",
		"Your administrator gives you a provisioning URI or QR code:",
		"  press " + m.st.Key.Render("i") + " and paste the otpauth:// URI, or run",
		"  otpknock import FILE.png",
	}, "\n")
}

func (m Model) importView() string {
	lines := []string{m.st.PanelTitle.Render("Import a profile"), "", m.input.View()}
	if m.inputErr != "" {
		lines = append(lines, "", m.st.Bad.Render("✗ ")+m.inputErr)
	}
	lines = append(lines, "", m.st.Dim.Render("enter import · esc cancel"))
	return strings.Join(lines, "\n")
}

func (m Model) listView(width, height int) string {
	var lines []string
	if m.mode == filtering || m.filter.Value() != "" {
		lines = append(lines, m.filter.View())
	}
	v := m.visible()
	if len(v) == 0 {
		lines = append(lines, m.st.Dim.Render("no match"))
	}
	for i, p := range v {
		name, host := truncate(p.Name, width-4), truncate(p.Host, width-4)
		if i == m.cursor {
			lines = append(lines, m.st.Selected.Render("▸ "+name), m.st.Dim.Render("  "+host))
		} else {
			lines = append(lines, m.st.Item.Render("  "+name), m.st.Dim.Render("  "+host))
		}
	}
	if height > 0 && len(lines) > height {
		lines = lines[:height]
	}
	return m.st.Panel.Width(width).Height(max(height, 1)).Render(strings.Join(lines, "\n"))
}

func (m Model) detailView(width int) string {
	p, ok := m.selected()
	if !ok {
		return m.st.Panel.Width(width).Render(m.st.Dim.Render("no profile selected"))
	}
	lines := []string{
		m.st.PanelTitle.Render(p.Name) + m.st.Dim.Render("  "+p.User+"@"+p.ServerID),
		fmt.Sprintf("knocks %s · opens %s%s", p.Host, opens(p), modeNote(p)),
		"",
	}
	if m.mode == confirmDelete {
		lines = append(lines, m.st.Bad.Render("Delete profile "+p.Name+"?")+" y/n", "")
	}
	if m.knock != nil && m.knock.profile == p.Name {
		lines = append(lines, m.knockLines()...)
	} else {
		lines = append(lines, m.sequenceLines(p, width)...)
	}
	return m.st.Panel.Width(width).Render(strings.Join(lines, "\n"))
}

// current returns the profile's sequence now, or a packet profile's
// element, and the time left in its step. A source-bound sequence
// depends on the address the server sees, which only a knock finds; a
// packet knock's element does not.
func (m Model) current(p profile.Profile) ([]derive.Knock, time.Duration, error) {
	now := m.deps.Clock.Now()
	step, left := derive.Step(now, p.Params.Period), derive.Left(now, p.Params.Period)
	if p.Knock == derive.ModePacket {
		pd, err := derive.NewPacket(p.Secret, p.ServerID, p.Params)
		if err != nil {
			return nil, 0, err
		}
		el, err := pd.Knock(step)
		return []derive.Knock{el}, left, err
	}
	if p.BindSource {
		return nil, 0, fmt.Errorf("source-bound: the sequence depends on your address; press enter to knock")
	}
	seq, err := derive.Sequence(p.Secret, p.ServerID, p.Params, step, netip.Addr{})
	return seq, left, err
}

// modeNote marks packet profiles after their host.
func modeNote(p profile.Profile) string {
	if p.Knock == derive.ModePacket {
		return " · packet"
	}
	return ""
}

func (m Model) sequenceLines(p profile.Profile, width int) []string {
	seq, left, err := m.current(p)
	if err != nil {
		return []string{m.st.Dim.Render(err.Error())}
	}
	step := derive.Step(m.deps.Clock.Now(), p.Params.Period)
	lines := []string{fmt.Sprintf("Knock now (step %d):", step)}
	for i, k := range seq {
		lines = append(lines, fmt.Sprintf("  %d ", i+1)+m.st.Knock.Render(k.String()))
	}
	if p.Knock == derive.ModePacket {
		lines = []string{fmt.Sprintf("Knock now (step %d, packet):", step),
			"  " + m.st.Knock.Render(seq[0].String()) + m.st.Dim.Render("  one packet with a MAC")}
	}
	secs := int((left + time.Second - 1) / time.Second)
	m.bar.Width = max(10, width-16)
	return append(lines, "", m.bar.ViewAs(left.Seconds()/p.Params.Period.Seconds())+fmt.Sprintf(" %2ds left", secs))
}

func (m Model) knockLines() []string {
	k := m.knock
	note := stepNote(k.step, k.packet)
	lines := []string{"Knocking" + note + ":"}
	if k.done {
		lines[0] = "Knocked" + note + ":"
	}
	for i, kn := range k.sent {
		if k.packet {
			lines = append(lines, "  "+kn.String()+" "+m.st.Done.Render("✓")+resent(k.packets))
			continue
		}
		lines = append(lines, fmt.Sprintf("  %d ", i+1)+kn.String()+" "+m.st.Done.Render("✓"))
	}
	switch {
	case !k.done:
		lines = append(lines, m.spinner.View()+" sending")
	case k.err != nil:
		lines = append(lines, m.st.Bad.Render("✗ ")+k.err.Error())
	case k.out.Service == "":
		lines = append(lines, m.st.OK.Render("sent"))
	case k.out.Opened:
		lines = append(lines, m.st.OK.Render(fmt.Sprintf("open in %d ms", k.out.Elapsed.Milliseconds()))+
			" · "+k.out.Service+attempts(k.out.Attempts))
	default:
		lines = append(lines, m.st.Bad.Render("still closed")+reason(k.out.Reason)+attempts(k.out.Attempts))
	}
	return lines
}

func stepNote(step uint64, packet bool) string {
	switch {
	case step == 0 && packet:
		return " (packet)"
	case step == 0:
		return ""
	case packet:
		return fmt.Sprintf(" (step %d, packet)", step)
	}
	return fmt.Sprintf(" (step %d)", step)
}

// resent notes a packet knock sent more than once.
func resent(packets int) string {
	if packets > 1 {
		return fmt.Sprintf(" ×%d", packets)
	}
	return ""
}

func (m Model) logView() string {
	if len(m.log) == 0 {
		return m.st.Dim.Render("log: results of your knocks appear here")
	}
	var lines []string
	for _, l := range m.log {
		mark := m.st.Done.Render("✓")
		if !l.ok {
			mark = m.st.Bad.Render("✗")
		}
		lines = append(lines, m.st.Dim.Render(l.at.Format("15:04:05"))+" "+mark+" "+truncate(l.text, m.width-12))
	}
	return strings.Join(lines, "\n")
}

func opens(p profile.Profile) string {
	if len(p.Open) == 0 {
		return "-"
	}
	return derive.Knocks(p.Open).String()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if n < 2 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
