package daemon

import "fmt"

// usedLocked returns the used steps of every generation so far, the
// current matcher's merged into d.used (which keeps users a reload
// removed and steps a restart loaded). d.mu is held.
func (d *Daemon) usedLocked() Used {
	d.used.Merge(UsedSteps(d.m.Used(), d.cfg.Params.Period))
	out := make(Used, len(d.used))
	out.Merge(d.used)
	return out
}

// save writes the used steps to the state file and records the outcome:
// a failure is logged, counted (otpknock_state_save_errors_total) and
// makes /healthz unhealthy until a save succeeds.
func (d *Daemon) save() error {
	d.mu.Lock()
	used, path := d.usedLocked(), d.cfg.StateFile
	d.mu.Unlock()
	err := SaveState(path, used)
	d.metrics.saved(err)
	if err != nil {
		d.log.Error("saving state: a used step may be accepted once more after a crash", "err", err)
		return fmt.Errorf("saving the used steps: %w", err)
	}
	return nil
}
