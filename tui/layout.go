package tui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// narrowWidth is the width below which the list and the detail panel
// stack instead of standing side by side.
const narrowWidth = 70

// layout divides the screen: one header row (what enter would knock),
// the panels, the log, the status and the help. Panels get what the
// other rows leave, so the screen never grows past the terminal.
type layout struct {
	narrow     bool
	listW      int // content width of the list panel
	detailW    int // content width of the detail panel
	listRows   int // content rows of the list panel
	detailRows int // content rows of the detail panel
	itemLines  int // rows a profile takes in the list
	logRows    int
	statusRows int
	help       string
}

// maxStatusRows is how many rows a long status may wrap to.
const maxStatusRows = 2

func (m Model) layout() layout {
	l := layout{narrow: m.width < narrowWidth, help: m.helpView()}
	l.logRows = min(logLines, max(0, (m.height-11)/2))
	l.statusRows = 1
	if m.status != "" {
		l.statusRows = min(maxStatusRows, len(wrapLines(m.status, m.width)))
	}
	body := m.height - 1 - l.logRows - l.statusRows - lipgloss.Height(l.help)
	if l.narrow {
		l.listW, l.detailW, l.itemLines = max(1, m.width-4), max(1, m.width-4), 1
		// Two panels, two border rows each. The list gets a third of
		// the rows, and more when the detail panel needs fewer.
		inner := max(2, body-4)
		want := m.filterRows() + max(1, len(m.visible()))
		l.listRows = max(1, min(want, inner/3))
		used := len(m.detailLines(l.detailW, inner-l.listRows))
		l.listRows = max(l.listRows, min(want, inner-used))
		l.detailRows = max(1, inner-l.listRows)
		return l
	}
	l.listW, l.detailW, l.itemLines = listWidth, m.width-listWidth-8, 2
	l.listRows = max(1, body-2)
	l.detailRows = l.listRows
	return l
}

// filterRows is 1 when the list shows the filter line.
func (m Model) filterRows() int {
	if m.mode == filtering || m.filter.Value() != "" {
		return 1
	}
	return 0
}

// listItems is how many profiles the list shows at once.
func (m Model) listItems(l layout) int {
	return max(1, (l.listRows-m.filterRows())/l.itemLines)
}

// scrolled moves the list's window so that the cursor is in it.
func (m Model) scrolled() Model {
	n, rows := len(m.visible()), m.listItems(m.layout())
	m.cursor = max(0, min(m.cursor, n-1))
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+rows {
		m.offset = m.cursor - rows + 1
	}
	m.offset = max(0, min(m.offset, n-rows))
	return m
}

// wrapLines wraps s to width cells and splits it into lines.
func wrapLines(s string, width int) []string {
	return strings.Split(ansi.Wrap(s, max(1, width), " "), "\n")
}

// fit wraps lines to width and, when they are more than rows, drops
// blank lines and then the last lines.
func fit(lines []string, width, rows int) []string {
	var out []string
	for _, s := range lines {
		out = append(out, wrapLines(s, width)...)
	}
	if len(out) > rows {
		kept := out[:0]
		for _, s := range out {
			if strings.TrimSpace(ansi.Strip(s)) != "" {
				kept = append(kept, s)
			}
		}
		out = kept
	}
	return out[:min(len(out), max(rows, 0))]
}

// cut truncates s to width cells, marking the cut with an ellipsis.
func cut(s string, width int) string {
	return ansi.Truncate(s, max(width, 0), "…")
}
