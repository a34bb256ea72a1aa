package clientcmd

import (
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/otpknock/otpknock/client"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/sender"
	"github.com/otpknock/otpknock/tui"
	"github.com/spf13/cobra"
)

func newTUICmd(env *Env) *cobra.Command {
	var stun string
	c := &cobra.Command{
		Use:   "tui",
		Short: "The knock at a glance: profiles, the current sequence, one key to knock",
		Long: `A terminal interface for knocking by hand: the list of profiles
(filter with /), the current sequence of the selected one with the time
left until it rotates, enter to knock and check that the service opened
(esc cancels a knock), i to import a URI (hidden as you paste it; tab
shows it), d to delete (y confirms), c to copy the sequence for the knock
client (with the system's clipboard tool, else through the terminal by
OSC 52, which works over ssh), ? for help, q to quit. The top line always
says what enter knocks. Colors follow the terminal and NO_COLOR.`,
		Args: args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openStore(env)
			if err != nil {
				return usage(err)
			}
			state, err := profile.LoadState(profile.StatePath(s.Path))
			if err != nil {
				return usage(err)
			}
			st := &syncState{s: state}
			fd, err := finder(env, stun, s.Path)
			if err != nil {
				return err
			}
			deps := tui.Deps{
				Store: tui.FileStore{S: s},
				Knocker: tui.SenderKnocker{Retries: 1, Timeout: 5 * time.Second,
					Client: client.Client{Clock: env.Clock, Writer: env.Writer, Prober: env.Prober, State: st, Gap: sender.DefaultGap, Finder: fd}},
				Clipboard: tui.ExecClipboard{Terminal: env.Stdout, Getenv: env.Getenv},
				Clock:     env.Clock,
				LastStep:  st.LastStep,
			}
			r := lipgloss.NewRenderer(env.Stdout)
			m := tui.New(deps, tui.DefaultKeyMap(), tui.DefaultStyles(r))
			_, err = tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(env.Stdin), tea.WithOutput(env.Stdout),
				tea.WithContext(cmd.Context())).Run()
			return err
		},
	}
	registerStun(c, &stun)
	return c
}

// syncState is the profile state shared by the TUI's screen, which
// reads it, and its knocks, which record in it, on their own goroutine.
type syncState struct {
	mu sync.Mutex
	s  *profile.State
}

// LastStep returns the last step name knocked in.
func (l *syncState) LastStep(name string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.LastStep(name)
}

// Record keeps step as name's last.
func (l *syncState) Record(name string, step uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Record(name, step)
}
