package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/daemon"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

// Defaults of the administrator's files on the admin host.
const (
	DefaultAdminKey    = "/etc/otpknock/fleet-admin.key"
	DefaultEnrollments = "/etc/otpknock/fleet-enrollments"
)

// fleetFlags are the fleet command's persistent flags.
type fleetFlags struct {
	config, adminKey, enrollments string
}

func newFleetCmd(env *Env) *cobra.Command {
	f := &fleetFlags{}
	c := &cobra.Command{
		Use:   "fleet",
		Short: summary("fleet"),
		Long: `Administer the fleet named by the config's fleet section, from any host
with the fleet's NATS credentials: make the administrator's key, list the
members, create the fleet's buckets in NATS (init, before the first member
starts), and give later members the users they lack. The fleet's users
are managed with otpknockd user add, list and remove, which act on the
fleet when the config has a fleet section. The enrollment secrets stay on
this host (--enrollments).`,
	}
	c.PersistentFlags().StringVarP(&f.config, "config", "c", config.DefaultPath, "config file with the fleet section")
	c.PersistentFlags().StringVar(&f.adminKey, "admin-key", DefaultAdminKey, "the administrator's X25519 key file (mode 0600)")
	c.PersistentFlags().StringVar(&f.enrollments, "enrollments", DefaultEnrollments, "directory of the fleet users' enrollment secrets (mode 0700)")
	c.AddCommand(newFleetAdminKeyCmd(env, f), newFleetInitCmd(env, f), newFleetMembersCmd(env, f), newFleetSyncCmd(env, f))
	return c
}

// fleetConfig loads the config and requires its fleet section.
func fleetConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if cfg.Fleet == nil {
		return nil, fmt.Errorf("%s: no fleet section: this server is not in a fleet", path)
	}
	return cfg, nil
}

// admin opens the fleet's store as its administrator: the config's
// fleet section, the key of --admin-key (which must be the one the
// config names). close ends the connection.
func (env *Env) admin(f *fleetFlags) (a fleet.Admin, cfg *config.Config, close func(), err error) {
	if cfg, err = fleetConfig(f.config); err != nil {
		return a, nil, nil, cli.Usage(err)
	}
	key, err := fleet.LoadKey(f.adminKey)
	if err != nil {
		return a, nil, nil, cli.Usage(fmt.Errorf("--admin-key: %w (create it with otpknockd fleet admin-key)", err))
	}
	if string(key.Public[:]) != string(cfg.Fleet.AdminKey) {
		return a, nil, nil, cli.UsageErrorf("--admin-key: %s is not the key the config's fleet.admin_key names: members would ignore its records", f.adminKey)
	}
	store, close, err := env.fleetStore(cfg)
	if err != nil {
		return a, nil, nil, err
	}
	return fleet.Admin{Store: store, Fleet: cfg.Fleet.ID, Key: key}, cfg, close, nil
}

// fleetStore connects to the config's fleet: Env's store, or NATS,
// binding the buckets (otpknockd fleet init creates them).
func (env *Env) fleetStore(cfg *config.Config) (fleet.Store, func(), error) {
	return env.fleetStoreManaged(cfg, false)
}

// fleetStoreManaged is fleetStore; with manage, a NATS store creates
// the buckets when absent and sets their replicas and expiry.
func (env *Env) fleetStoreManaged(cfg *config.Config, manage bool) (fleet.Store, func(), error) {
	if env.Fleet != nil {
		return env.Fleet, func() {}, nil
	}
	o, err := daemon.NATSOptions(cfg, "otpknockd admin")
	if err != nil {
		return nil, nil, cli.Usage(err)
	}
	o.Once, o.Manage = true, manage
	js, err := fleet.Dial(o)
	if err != nil {
		return nil, nil, err
	}
	return js, js.Close, nil
}
