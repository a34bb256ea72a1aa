package tui

import (
	"context"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
)

type mode int

const (
	browsing mode = iota
	filtering
	importing
	confirmDelete
	knocking
)

// logLines is how many results the log pane keeps; noteLines how many
// status lines of a knock its panel shows.
const (
	logLines  = 5
	noteLines = 3
)

type logLine struct {
	at   time.Time
	text string
	ok   bool
}

// knockState is a knock in progress or just finished.
type knockState struct {
	profile string
	packet  bool // a packet knock: sent holds its element
	packets int  // packets sent, with resends, in this step
	step    uint64
	total   int
	sent    []derive.Knock
	notes   []string // the knock's status lines, the last noteLines
	done    bool
	out     Outcome
	err     error
	events  chan Sent
	cancel  context.CancelFunc // esc stops the knock
	stopped bool               // esc was pressed
}

// Model is the TUI's state.
type Model struct {
	deps   Deps
	keys   KeyMap
	st     Styles
	width  int
	height int

	profiles []profile.Profile
	cursor   int    // index into visible()
	offset   int    // first item of visible() the list shows
	before   string // the profile selected when the filter opened
	filter   textinput.Model
	input    textinput.Model
	inputErr string
	mode     mode
	knock    *knockState
	spinner  spinner.Model
	bar      progress.Model
	help     help.Model
	log      []logLine
	status   string // one-line notice (copied, deleted, errors)
}

// New returns the model for deps, with keys and styles.
func New(deps Deps, keys KeyMap, st Styles) Model {
	f := textinput.New()
	f.Prompt = "/ "
	f.Placeholder = "filter by name, host or user"
	in := textinput.New()
	in.Prompt = "URI: "
	in.Placeholder = "otpauth://totp/otpknock:..."
	in.CharLimit = 4096
	in.EchoMode, in.EchoCharacter = textinput.EchoPassword, '•' // the URI holds the secret
	sp := spinner.New(spinner.WithSpinner(spinner.Dot))
	bar := progress.New(progress.WithoutPercentage(), progress.WithSolidFill("#7D56F4"))
	h := help.New()
	h.Width = 80
	return Model{deps: deps, keys: keys, st: st, profiles: deps.Store.List(), filter: f, input: in,
		spinner: sp, bar: bar, help: h, width: 80, height: 24}
}

// Init starts the clock tick.
func (m Model) Init() tea.Cmd { return tick() }

type tickMsg struct{}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return tickMsg{} })
}

// visible returns the profiles that match the filter.
func (m Model) visible() []profile.Profile {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	if q == "" {
		return m.profiles
	}
	var out []profile.Profile
	for _, p := range m.profiles {
		if strings.Contains(strings.ToLower(p.Name+" "+p.Host+" "+p.User+"@"+p.ServerID), q) {
			out = append(out, p)
		}
	}
	return out
}

// selected returns the profile under the cursor.
func (m Model) selected() (profile.Profile, bool) {
	v := m.visible()
	if m.cursor < 0 || m.cursor >= len(v) {
		return profile.Profile{}, false
	}
	return v[m.cursor], true
}

func (m *Model) addLog(text string, ok bool) {
	m.log = append(m.log, logLine{at: m.deps.Clock.Now(), text: text, ok: ok})
	if len(m.log) > logLines {
		m.log = m.log[len(m.log)-logLines:]
	}
}

// selectName puts the cursor on the visible profile called name, if any.
func (m *Model) selectName(name string) {
	for i, p := range m.visible() {
		if p.Name == name {
			m.cursor = i
			return
		}
	}
}
