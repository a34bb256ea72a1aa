package servercmd

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

// fleetCompleteWait bounds how long completing a fleet user's name
// waits for the fleet's store; past it, the member's last copy answers,
// so a shell never hangs on an unreachable NATS.
const fleetCompleteWait = 500 * time.Millisecond

// fleetUserNames completes the NAME of a user command that acts on the
// fleet (user remove): the fleet's users when the config has a fleet
// section and --local is not set, else the config's users.
func (env *Env) fleetUserNames(c *cobra.Command) []string {
	if local, _ := c.Flags().GetBool("local"); local {
		return userNames(c)
	}
	path, err := c.Flags().GetString("config")
	if err != nil {
		return nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil
	}
	if cfg.Fleet == nil {
		return userNames(c)
	}
	return env.storeUserNames(cfg, fleetCompleteWait)
}

// storeUserNames lists the fleet's users from its store when it answers
// within wait, else from this member's last copy (fleet.cache_file);
// nothing when neither does. A store that does not answer is left to
// finish in the background.
func (env *Env) storeUserNames(cfg *config.Config, wait time.Duration) []string {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	type reply struct {
		names []string
		ok    bool
	}
	answer := make(chan reply, 1)
	go func() {
		store, closeStore, err := env.fleetStore(cfg)
		if err != nil {
			answer <- reply{}
			return
		}
		defer closeStore()
		recs, err := store.Records(ctx)
		answer <- reply{slices.Sorted(maps.Keys(fleetUsers(recs))), err == nil}
	}()
	select {
	case r := <-answer:
		if r.ok {
			return r.names
		}
	case <-ctx.Done():
	}
	names, err := fleet.LocalCopyUsers(cfg.Fleet.CacheFile)
	if err != nil {
		return nil
	}
	return names
}
