package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is the TUI's key bindings; it implements help.KeyMap.
type KeyMap struct {
	Up, Down, Knock, Filter, Import, Delete, Copy, Help, Quit key.Binding
	// Confirm deletes in the delete prompt, where any other key keeps
	// the profile; Cancel leaves the filter, the import or a knock;
	// Reveal shows or hides the URI being imported.
	Confirm, Cancel, Reveal key.Binding
}

// DefaultKeyMap returns the standard bindings.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Knock:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "knock")),
		Filter:  key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Import:  key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "import")),
		Delete:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete")),
		Copy:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy for knock")),
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:    key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Confirm: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "delete")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Reveal:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "show/hide")),
	}
}

// ShortHelp is the one-line help.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Knock, k.Filter, k.Import, k.Help, k.Quit}
}

// FullHelp is the expanded help, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Up, k.Down, k.Knock}, {k.Filter, k.Import, k.Delete}, {k.Copy, k.Help, k.Quit}}
}
