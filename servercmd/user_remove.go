package servercmd

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

// removedDir is where user remove keeps the secrets of removed users,
// under secrets_dir.
const removedDir = "removed"

type userRemoveFlags struct {
	noReload, yes bool
}

func newUserRemoveCmd(env *Env, s *userScope) *cobra.Command {
	var f userRemoveFlags
	c := &cobra.Command{
		Use:               "remove NAME [--yes] [--no-reload]",
		ValidArgsFunction: cli.CompleteFirst(env.fleetUserNames),
		Aliases:           []string{"rm"},
		Short:             "Remove a user; keep their secret aside",
		Long: `Remove a user from the config, move their secret to
secrets_dir/removed/NAME.key.TIME (mode 0600, for a way back) and reload
a running server (systemctl reload otpknock when systemd runs it, else
SIGHUP to the pid in the pid file next to state_file), so the user's
knocks stop opening at once. --no-reload prints the command instead.

On a terminal it asks first; --yes removes without asking, and is
needed when standard input is not a terminal (scripts). To undo, move
the secret back and put the user back under users: in the config, as
the command prints.

In a fleet (the config has a fleet section; --local for this server
alone): replace the user's record on every member with a tombstone of a
newer generation, so each member drops it within seconds and refuses
its older records from then on, and delete its enrollment secret under
--enrollments. Completion offers the fleet's users (from NATS within
half a second, else this member's last copy).`,
		Example: "  otpknockd user remove alice\n  otpknockd user remove alice --yes   # scripts",
		Args:    cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			fl, err := s.onFleet()
			if err != nil {
				return cli.Usage(err)
			}
			if fl {
				if err := localOnlyFlags(cmd, "no-reload"); err != nil {
					return err
				}
				return fleetUserRemove(cmd, env, &s.fleet, a[0], f.yes)
			}
			return userRemove(env, s.fleet.config, a[0], f)
		},
	}
	c.Flags().BoolVar(&f.noReload, "no-reload", false, "do not reload a running server; print the command instead")
	c.Flags().BoolVarP(&f.yes, "yes", "y", false, "remove without asking (needed when standard input is not a terminal)")
	return c
}

// errNotConfirmed is a removal the admin declined.
var errNotConfirmed = errors.New("not removed: not confirmed")

// userRemove removes name from the config at path once confirmed, then
// keeps the secret aside and says how to undo it.
func userRemove(env *Env, path, name string, f userRemoveFlags) error {
	cfg, err := config.Load(path)
	if err != nil {
		return cli.Usage(err)
	}
	u, ok := cfg.User(name)
	if !ok {
		return cli.UsageErrorf("no user %q in %s", name, cfg.Path)
	}
	if !f.yes {
		if err := confirmRemove(env, cfg, name); err != nil {
			return err
		}
	}
	if cfg, err = config.RemoveUser(path, name); err != nil {
		return editError(err)
	}
	kept, err := keepSecret(env, cfg, name)
	if err != nil {
		return fmt.Errorf("user %s removed from %s, but keeping the secret aside failed: %w", name, cfg.Path, err)
	}
	w := env.Stdout
	if kept == "" {
		fmt.Fprintf(w, "Removed user %s from %s (there was no secret file %s).\n", name, cfg.Path, cfg.SecretPath(name))
	} else {
		fmt.Fprintf(w, "Removed user %s from %s; their secret is kept in %s (mode 0600).\n", name, cfg.Path, kept)
		fmt.Fprintf(w, "To undo: mv %s %s, add %s under users: in %s, and reload.\n", kept, cfg.SecretPath(name), userEntry(u), cfg.Path)
	}
	if f.noReload {
		notReloaded(w, cfg)
	} else {
		reloadServer(env, w, cfg)
	}
	return nil
}

// confirmRemove asks on a terminal whether to remove name; without a
// terminal it refuses, naming --yes.
func confirmRemove(env *Env, cfg *config.Config, name string) error {
	return confirm(env, name, fmt.Sprintf("Remove user %s from %s? Their knocks stop opening; the secret is kept aside.", name, cfg.Path))
}

// confirm asks question on a terminal; without one it refuses, naming
// --yes.
func confirm(env *Env, name, question string) error {
	if _, ok := env.terminal(env.Stdin); !ok {
		return cli.UsageErrorf("user remove %s: standard input is not a terminal to confirm on; pass --yes to remove without asking", name)
	}
	fmt.Fprintf(env.Stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(env.Stderr)
		return errNotConfirmed
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}

// keepSecret moves the secret of name to secrets_dir/removed/
// NAME.key.TIME, keeping its mode and owner, and returns where; "" when
// there was no secret file.
func keepSecret(env *Env, cfg *config.Config, name string) (string, error) {
	secret := cfg.SecretPath(name)
	if _, err := os.Lstat(secret); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	dir := filepath.Join(cfg.SecretsDir, removedDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	kept := filepath.Join(dir, filepath.Base(secret)+"."+env.Clock.Now().UTC().Format("20060102T150405Z"))
	if _, err := os.Lstat(kept); err == nil {
		return "", fmt.Errorf("%s already exists", kept)
	}
	if err := os.Rename(secret, kept); err != nil {
		return "", err
	}
	return kept, nil
}

// userEntry is u as a line of the config's users list.
func userEntry(u config.User) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{name: %s, open: [%s]", u.Name, cli.KnockList(u.Open))
	if len(u.From) > 0 {
		fmt.Fprintf(&b, ", from: [%s]", fromList(u))
	}
	if u.BindSource {
		b.WriteString(", bind_source: true")
	}
	if u.Knock == derive.ModePacket {
		fmt.Fprintf(&b, ", knock: %s", u.Knock)
	}
	b.WriteString("}")
	return "- " + b.String()
}
