package clientcmd

import (
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
			fd, err := finder(env, stun, s.Path)
			if err != nil {
				return err
			}
			deps := tui.Deps{
				Store: tui.FileStore{S: s},
				Knocker: tui.SenderKnocker{Retries: 1, Timeout: 5 * time.Second,
					Client: client.Client{Clock: env.Clock, Writer: env.Writer, Prober: env.Prober, State: state, Gap: sender.DefaultGap, Finder: fd}},
				Clipboard: tui.ExecClipboard{Terminal: env.Stdout, Getenv: env.Getenv},
				Clock:     env.Clock,
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
