package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

// userScope is where user add, list and remove act: the fleet of the
// config's fleet section (with the fleet flags), or this server's
// config alone.
type userScope struct {
	fleet     fleetFlags
	inFleet   bool // --fleet
	localOnly bool // --local
}

func newUserCmd(env *Env) *cobra.Command {
	s := &userScope{}
	c := &cobra.Command{
		Use:   "user",
		Short: summary("user"),
		Long: `Manage the users who knock. When the config has a fleet section, add,
list and remove act on the whole fleet (from any host with the fleet's
NATS credentials and the administrator's key): a user is enrolled once
for every member and removed from every member. --local acts on this
server's config alone; --fleet insists on the fleet. show, qr and rekey
act on this server's config.`,
	}
	path := &s.fleet.config
	c.PersistentFlags().StringVarP(path, "config", "c", config.DefaultPath, "server config file")
	add, list, remove := newUserAddCmd(env, s), newUserListCmd(env, s), newUserRemoveCmd(env, s)
	for _, sc := range []*cobra.Command{add, list, remove} {
		s.addFlags(sc)
	}
	c.AddCommand(add, list, newUserShowCmd(env, path), newUserQRCmd(env, path), remove, newUserRekeyCmd(env, path))
	return c
}

// addFlags registers the scope flags on c: add, list and remove have
// them; show, qr and rekey act on this server's config only.
func (s *userScope) addFlags(c *cobra.Command) {
	c.Flags().BoolVar(&s.inFleet, "fleet", false, "act on the fleet of the config's fleet section (the default when it has one)")
	c.Flags().BoolVar(&s.localOnly, "local", false, "act on this server's config alone, even in a fleet")
	c.Flags().StringVar(&s.fleet.adminKey, "admin-key", DefaultAdminKey, "in a fleet: the administrator's X25519 key file (mode 0600)")
	c.Flags().StringVar(&s.fleet.enrollments, "enrollments", DefaultEnrollments, "in a fleet: directory of the fleet users' enrollment secrets (mode 0700)")
}

// onFleet says whether the command acts on the fleet: --fleet, or a
// config with a fleet section unless --local. A config that does not
// load is left to the local command to report, unless --fleet.
func (s *userScope) onFleet() (bool, error) {
	if s.inFleet && s.localOnly {
		return false, fmt.Errorf("--fleet and --local: pick one")
	}
	if s.localOnly {
		return false, nil
	}
	cfg, err := config.Load(s.fleet.config)
	switch {
	case err != nil && s.inFleet:
		return false, err
	case err != nil:
		return false, nil
	case cfg.Fleet == nil && s.inFleet:
		return false, fmt.Errorf("--fleet: %s has no fleet section: this server is not in a fleet", cfg.Path)
	}
	return cfg.Fleet != nil, nil
}

// localOnlyFlags refuses, in a fleet, the flags of c that only a local
// command has: the first one set, named.
func localOnlyFlags(c *cobra.Command, names ...string) error {
	for _, n := range names {
		if c.Flags().Changed(n) {
			return cli.UsageErrorf("--%s: not for a fleet user (the config has a fleet section); --local acts on this server alone", n)
		}
	}
	return nil
}

// noticeServer prints the config's strength against a blind sweep and
// reloads a running server unless noReload, after a change of users.
func noticeServer(env *Env, cfg *config.Config, noReload bool) {
	fmt.Fprintf(env.Stdout, "Strength: %.1f effective bits against a blind sweep with %s (minimum %d; these parameters keep it up to %s).\n",
		daemon.EffectiveBits(cfg), count(float64(cfg.SequenceUsers()), "sequence user"), derive.MinBits, count(daemon.MaxUsers(cfg), "sequence user"))
	if noReload {
		notReloaded(env.Stdout, cfg)
		return
	}
	reloadServer(env, env.Stdout, cfg)
}

// checkStrength refuses to provision for cfg when the server would
// refuse it (daemon.CheckStrength): a URI the server never accepts
// must not be handed out.
func checkStrength(cfg *config.Config) error {
	if err := daemon.CheckStrength(cfg); err != nil {
		return fmt.Errorf("the server refuses this config, so no URI is written: %w", err)
	}
	return nil
}

// count is n followed by noun, plural unless n is 1.
func count(n float64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%.0f %ss", n, noun)
}
