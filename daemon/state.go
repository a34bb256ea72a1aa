package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otpknock/otpknock/internal/safefile"
)

// stateFile is the state_file's content: each user's last used step.
type stateFile struct {
	Version  int               `json:"version"`
	LastStep map[string]uint64 `json:"last_step"`
}

// LoadState reads the last used steps; a missing file means none used.
func LoadState(path string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]uint64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state_file: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("state_file %s is not an otpknock state file (version 1): refusing to start without knowing the used steps; restore it, or delete it only if no sequence of the last minutes can be replayed", path)
	}
	if f.LastStep == nil {
		f.LastStep = map[string]uint64{}
	}
	return f.LastStep, nil
}

// SaveState writes the last used steps atomically (write, fsync, rename).
func SaveState(path string, last map[string]uint64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state_file: %w", err)
	}
	data, err := json.MarshalIndent(stateFile{Version: 1, LastStep: last}, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Write(path, append(data, '\n'), 0o600)
}
