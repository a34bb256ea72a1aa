package tui

import "github.com/charmbracelet/lipgloss"

// Styles is the TUI's look. Colors adapt to light and dark terminals;
// the renderer drops them for NO_COLOR and plain terminals.
type Styles struct {
	Title, Panel, PanelTitle, Selected, Item, Dim, Knock, Done, OK, Bad, Key lipgloss.Style
}

// DefaultStyles returns the standard styles for renderer r.
func DefaultStyles(r *lipgloss.Renderer) Styles {
	accent := lipgloss.AdaptiveColor{Light: "#5A3FC0", Dark: "#B7A6FF"}
	green := lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#56D364"}
	red := lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#FF7B72"}
	dim := lipgloss.AdaptiveColor{Light: "#6E7781", Dark: "#8B949E"}
	return Styles{
		Title:      r.NewStyle().Bold(true).Foreground(accent),
		Panel:      r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(dim).Padding(0, 1),
		PanelTitle: r.NewStyle().Bold(true),
		Selected:   r.NewStyle().Bold(true).Foreground(accent),
		Item:       r.NewStyle(),
		Dim:        r.NewStyle().Foreground(dim),
		Knock:      r.NewStyle().Bold(true),
		Done:       r.NewStyle().Foreground(green),
		OK:         r.NewStyle().Bold(true).Foreground(green),
		Bad:        r.NewStyle().Bold(true).Foreground(red),
		Key:        r.NewStyle().Bold(true).Foreground(accent),
	}
}
