package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

func newUserCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: summary("user"),
	}
	var path string
	c.PersistentFlags().StringVarP(&path, "config", "c", config.DefaultPath, "server config file")
	c.AddCommand(newUserAddCmd(env, &path), newUserListCmd(env, &path), newUserShowCmd(env, &path), newUserQRCmd(env, &path), newUserRemoveCmd(env, &path), newUserRekeyCmd(env, &path))
	return c
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
