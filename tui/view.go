package tui

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
)

// listWidth is the profile list's width in the two-column layout.
const listWidth = 26

// View renders the screen: the header, the panels, the log, the status
// and the help, in at most the terminal's height.
func (m Model) View() string {
	m = m.scrolled()
	l := m.layout()
	var body string
	switch {
	case len(m.profiles) == 0 && m.mode != importing:
		body = m.panel(m.emptyView(), m.width-4, l.listRows)
	case m.mode == importing:
		body = m.panel(m.importView(), m.width-4, l.listRows)
	case l.narrow:
		body = lipgloss.JoinVertical(lipgloss.Left, m.listView(l), m.detailView(l))
	default:
		body = lipgloss.JoinHorizontal(lipgloss.Top, m.listView(l), m.detailView(l))
	}
	parts := []string{m.headerView(), body}
	if l.logRows > 0 {
		parts = append(parts, m.logView(l.logRows))
	}
	status := wrapLines(m.st.Dim.Render(m.status), m.width)
	for len(status) < l.statusRows {
		status = append(status, "")
	}
	if len(status) > l.statusRows {
		status = append(status[:l.statusRows-1], cut(status[l.statusRows-1]+" …", m.width))
	}
	parts = append(parts, strings.Join(status, "\n"), l.help)
	lines := strings.Split(lipgloss.JoinVertical(lipgloss.Left, parts...), "\n")
	return strings.Join(lines[:min(len(lines), max(m.height, 1))], "\n")
}

// panel draws lines in a bordered panel of width content cells and
// exactly rows content rows.
func (m Model) panel(lines []string, width, rows int) string {
	// The panel's width holds its padding, one cell a side.
	return m.st.Panel.Width(width + 2).Height(rows).Render(strings.Join(fit(lines, width, rows), "\n"))
}

// headerView is the top row: what enter would knock, always visible.
func (m Model) headerView() string {
	title := m.st.Title.Render("otpknock")
	p, ok := m.selected()
	var s string
	switch {
	case m.mode == importing:
		s = " · import a profile"
	case len(m.profiles) == 0:
		s = " · one-time knocks"
	case m.mode == knocking && m.knock != nil:
		s = " · knocking " + m.st.Selected.Render(m.knock.profile) + " · esc cancels"
	case !ok:
		s = m.st.Dim.Render(" · no profile matches the filter")
	default:
		s = " · enter knocks " + m.st.Selected.Render(p.Name) + " at " + p.Host
		if w := account(p); w != "" {
			s += m.st.Dim.Render(" (" + w + ")")
		}
		if n, l := len(m.visible()), m.layout(); n > m.listItems(l) {
			s += m.st.Dim.Render(fmt.Sprintf(" · %d/%d", m.cursor+1, n))
		}
	}
	return cut(title+s, m.width)
}

// helpView is the help for the keys the current mode takes.
func (m Model) helpView() string {
	k := m.keys
	switch m.mode {
	case knocking:
		return m.help.ShortHelpView([]key.Binding{withHelp(k.Cancel, "cancel the knock")})
	case confirmDelete:
		return m.help.ShortHelpView([]key.Binding{k.Confirm, withHelp(k.Cancel, "keep (or enter, n)")})
	case importing:
		return m.help.ShortHelpView([]key.Binding{withHelp(k.Knock, "import"), k.Reveal, k.Cancel})
	case filtering:
		return m.help.ShortHelpView([]key.Binding{withHelp(k.Knock, "keep filter"), withHelp(k.Cancel, "clear filter")})
	}
	return m.help.View(k)
}

// withHelp returns b with another description.
func withHelp(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

func (m Model) emptyView() []string {
	return []string{
		m.st.PanelTitle.Render("No profiles yet"),
		"",
		"Your administrator gives you a provisioning URI or QR code:",
		"  press " + m.st.Key.Render("i") + " and paste the otpauth:// URI, or run",
		"  otpknock import FILE.png",
	}
}

func (m Model) importView() []string {
	lines := []string{m.st.PanelTitle.Render("Import a profile"), "", m.input.View()}
	if m.inputErr != "" {
		lines = append(lines, "", m.st.Bad.Render("✗ ")+m.inputErr)
	}
	shown := "hidden: the URI holds your secret (tab shows it)"
	if m.revealed() {
		shown = "shown (tab hides it)"
	}
	lines = append(lines, "", m.st.Dim.Render(shown))
	return lines
}

// listView is the list panel: the window of profiles around the cursor.
func (m Model) listView(l layout) string {
	var lines []string
	if m.filterRows() > 0 {
		lines = append(lines, cut(m.filter.View(), l.listW))
	}
	v := m.visible()
	if len(v) == 0 {
		lines = append(lines, m.st.Dim.Render("no match"))
	}
	end := min(len(v), m.offset+m.listItems(l))
	for i := m.offset; i < end; i++ {
		lines = append(lines, m.item(v[i], i == m.cursor, l)...)
	}
	return m.panel(lines, l.listW, l.listRows)
}

// item is a profile's rows in the list: name over host, or both on one
// row in the narrow layout.
func (m Model) item(p profile.Profile, selected bool, l layout) []string {
	mark, name := "  ", m.st.Item
	if selected {
		mark, name = "▸ ", m.st.Selected
	}
	if l.narrow {
		return []string{cut(name.Render(mark+p.Name)+m.st.Dim.Render("  "+p.Host), l.listW)}
	}
	return []string{cut(name.Render(mark+p.Name), l.listW), cut(m.st.Dim.Render("  "+p.Host), l.listW)}
}

// detailView is the selected profile's panel.
func (m Model) detailView(l layout) string {
	return m.panel(m.detailLines(l.detailW, l.detailRows), l.detailW, l.detailRows)
}

// detailLines are the selected profile's panel's lines, fitted to
// width and rows: when the full panel does not fit, the profile's name
// and host go first (the header shows them), then the sequence shrinks
// to a line.
func (m Model) detailLines(width, rows int) []string {
	p, ok := m.selected()
	if !ok {
		return fit([]string{m.st.Dim.Render("no profile selected")}, width, rows)
	}
	head := []string{
		m.st.PanelTitle.Render(p.Name) + m.st.Dim.Render(prefixed("  ", account(p))),
		fmt.Sprintf("knocks %s · opens %s%s", p.Host, opens(p), modeNote(p)),
		"",
	}
	var ask []string
	if m.mode == confirmDelete {
		ask = []string{m.st.Bad.Render("Delete profile "+p.Name+"?") + " y/N", ""}
	}
	var full, short []string
	if m.knock != nil && m.knock.profile == p.Name {
		full = m.knockLines()
		short = []string{full[0], full[len(full)-1]}
	} else {
		full, short = m.sequenceLines(p, width)
	}
	for _, lines := range [][]string{concat(head, ask, full), concat(ask, full)} {
		if got := fit(lines, width, rows+1); len(got) <= rows {
			return got
		}
	}
	return fit(concat(ask, short), width, rows)
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// current returns the profile's sequence now, or a packet profile's
// element, and the time left in its step. A source-bound sequence
// depends on the address the server sees, which only a knock finds; a
// packet knock's element does not.
func (m Model) current(p profile.Profile) ([]derive.Knock, time.Duration, error) {
	now := m.deps.Clock.Now()
	return m.sequenceOf(p, derive.Step(now, p.Params.Period), derive.Left(now, p.Params.Period))
}

// knockStep returns the step enter knocks in and how long until it
// begins: the current step, or, when the profile knocked in it already
// (a step is used once), the next one.
func (m Model) knockStep(p profile.Profile) (step uint64, wait time.Duration) {
	now := m.deps.Clock.Now()
	step = derive.Step(now, p.Params.Period)
	if m.deps.LastStep == nil {
		return step, 0
	}
	if last, ok := m.deps.LastStep(p.Name); ok && last == step {
		return step + 1, derive.Left(now, p.Params.Period)
	}
	return step, 0
}

// sequenceOf returns the profile's sequence of step, or a packet
// profile's element, passing left through.
func (m Model) sequenceOf(p profile.Profile, step uint64, left time.Duration) ([]derive.Knock, time.Duration, error) {
	secret, serverID, err := p.KeyFor(p.Host) // a fleet profile's member key for its host
	if err != nil {
		return nil, 0, err
	}
	if p.Knock == derive.ModePacket {
		el, err := derive.PacketElement(p.Auth, secret, serverID, p.Params, step)
		return []derive.Knock{el}, left, err
	}
	if p.BindSource {
		return nil, 0, fmt.Errorf("source-bound: the sequence depends on your address; press enter to knock")
	}
	seq, err := derive.Sequence(secret, serverID, p.Params, step, netip.Addr{})
	return seq, left, err
}

// modeNote marks packet profiles after their host.
func modeNote(p profile.Profile) string {
	if p.Knock == derive.ModePacket {
		return " · packet"
	}
	return ""
}

// sequenceLines are the knock to send now and the time left in its
// step, in full and on one line.
func (m Model) sequenceLines(p profile.Profile, width int) (full, short []string) {
	step, wait := m.knockStep(p)
	seq, left, err := m.current(p)
	if err == nil && wait > 0 {
		seq, _, err = m.sequenceOf(p, step, 0)
	}
	if err != nil {
		return []string{m.st.Dim.Render(err.Error())}, []string{m.st.Dim.Render(err.Error())}
	}
	secs := int((left + time.Second - 1) / time.Second)
	title, kind, when := fmt.Sprintf("Knock now (step %d", step), "", fmt.Sprintf("Now (%ds left): ", secs)
	if wait > 0 {
		// A step is used once: enter waits for the next one.
		title, when = fmt.Sprintf("Step %d used; enter knocks step %d in %ds (", step-1, step, secs), fmt.Sprintf("Step %d in %ds: ", step, secs)
	}
	if p.Knock == derive.ModePacket {
		kind = ", packet"
		if wait > 0 {
			kind = "packet"
		}
	}
	full = []string{strings.TrimSuffix(title+kind+")", " ()") + ":"}
	knocks := make([]string, len(seq))
	for i, k := range seq {
		full = append(full, fmt.Sprintf("  %d ", i+1)+m.st.Knock.Render(k.String()))
		knocks[i] = m.st.Knock.Render(k.String())
	}
	if p.Knock == derive.ModePacket {
		full = []string{full[0], "  " + m.st.Knock.Render(seq[0].String()) + m.st.Dim.Render("  one packet with a MAC")}
	}
	m.bar.Width = max(10, width-16)
	full = append(full, "", m.bar.ViewAs(left.Seconds()/p.Params.Period.Seconds())+fmt.Sprintf(" %2ds left", secs))
	short = []string{when + strings.Join(knocks, " ")}
	return full, short
}

// account is p's user@server, or "" when p's name says it already.
func account(p profile.Profile) string {
	if a := p.User + "@" + p.ServerID; a != p.Name {
		return a
	}
	return ""
}

// prefixed is s after prefix, or "" for an empty s.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
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
	for _, n := range k.notes {
		lines = append(lines, m.st.Dim.Render(n))
	}
	switch {
	case !k.done && len(k.sent) == 0 && slices.ContainsFunc(k.notes, func(n string) bool { return strings.Contains(n, "for the next step") }):
		lines = append(lines, m.spinner.View()+" waiting for the next step")
	case !k.done && (len(k.sent) == 0 || len(k.sent) < k.total):
		lines = append(lines, m.spinner.View()+" sending")
	case !k.done:
		lines = append(lines, m.spinner.View()+" waiting for "+m.knockService()+" to answer")
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

// knockService names what a knock in progress waits for: the selected
// profile's first TCP service, as the knock does.
func (m Model) knockService() string {
	for _, p := range m.profiles {
		if p.Name != m.knock.profile {
			continue
		}
		for _, k := range p.Open {
			if r, _ := k.Proto.Info(); r.Connect {
				return k.String()
			}
		}
	}
	return "the service"
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

// logView is the last results, in exactly rows rows.
func (m Model) logView(rows int) string {
	lines := []string{cut(m.st.Dim.Render("log: results of your knocks appear here"), m.width)}
	if len(m.log) > 0 {
		lines = nil
	}
	for _, l := range m.log[max(0, len(m.log)-rows):] {
		mark := m.st.Done.Render("✓")
		if !l.ok {
			mark = m.st.Bad.Render("✗")
		}
		lines = append(lines, cut(m.st.Dim.Render(l.at.Format("15:04:05"))+" "+mark+" "+l.text, m.width))
	}
	for len(lines) < rows {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func opens(p profile.Profile) string {
	if len(p.Open) == 0 {
		return "-"
	}
	return derive.Knocks(p.Open).String()
}
