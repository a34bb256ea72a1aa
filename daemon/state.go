package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/otpknock/otpknock/internal/safefile"
)

// Used is each user's last used step, as the unix time in seconds at
// which that step began. A time, not a step number, so that it keeps its
// meaning when the step length changes.
type Used map[string]uint64

// UsedSteps turns step numbers of period into Used. A step whose start
// lies beyond the uint64 range is kept as the largest time.
func UsedSteps(steps map[string]uint64, period time.Duration) Used {
	sec := uint64(period / time.Second)
	u := make(Used, len(steps))
	for name, s := range steps {
		if sec != 0 && s > math.MaxUint64/sec {
			u[name] = math.MaxUint64
			continue
		}
		u[name] = s * sec
	}
	return u
}

// Steps returns, for steps of period, each user's step that contains
// the start of their last used step: that step counts as used. With the
// period the times were made with, these are the steps themselves.
func (u Used) Steps(period time.Duration) map[string]uint64 {
	sec := max(uint64(period/time.Second), 1)
	steps := make(map[string]uint64, len(u))
	for name, t := range u {
		steps[name] = t / sec
	}
	return steps
}

// Merge raises each user's time in u to at least theirs in o.
func (u Used) Merge(o Used) {
	for name, t := range o {
		if last, ok := u[name]; !ok || t > last {
			u[name] = t
		}
	}
}

// stateVersion is the state file's current version: 2 holds the start
// times of the last used steps; 1 held bare step numbers.
const stateVersion = 2

// stateFile is the state_file's content.
type stateFile struct {
	Version   int               `json:"version"`
	LastStart map[string]uint64 `json:"last_step_start,omitempty"` // version 2
	LastStep  map[string]uint64 `json:"last_step,omitempty"`       // version 1
}

// LoadState reads the last used steps; a missing file means none used.
// A version 1 file holds bare step numbers: they are read as steps of
// period, the configured one, and legacy says so (the next save writes
// version 2).
func LoadState(path string, period time.Duration) (used Used, legacy bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Used{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state_file: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version < 1 || f.Version > stateVersion ||
		(f.Version == 1 && f.LastStart != nil) || (f.Version == 2 && f.LastStep != nil) {
		return nil, false, fmt.Errorf("state_file %s is not an otpknock state file (version 1 or 2): refusing to start without knowing the used steps; restore it, or delete it only if no sequence of the last minutes can be replayed", path)
	}
	if f.Version == 1 {
		return UsedSteps(f.LastStep, period), true, nil
	}
	if f.LastStart == nil {
		return Used{}, false, nil
	}
	return Used(f.LastStart), false, nil
}

// SaveState writes the last used steps atomically (write, fsync, rename)
// as a version 2 file.
func SaveState(path string, used Used) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state_file: %w", err)
	}
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, LastStart: used}, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.Write(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("state_file: %w", err)
	}
	return nil
}
