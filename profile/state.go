package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otpknock/otpknock/internal/safefile"
)

// State remembers the last step each profile knocked in: the server
// accepts a (user, step) once, so the client never sends a step twice.
type State struct {
	Path string
	Last map[string]uint64
}

// StatePath returns the state file kept beside the profile store.
func StatePath(storePath string) string {
	return filepath.Join(filepath.Dir(storePath), "state.json")
}

// LoadState reads the state file; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	s := &State{Path: path, Last: map[string]uint64{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client state: %w", err)
	}
	if err := json.Unmarshal(data, &s.Last); err != nil {
		return nil, fmt.Errorf("client state %s: %w (delete it to start afresh)", path, err)
	}
	return s, nil
}

// LastStep returns the last step the profile used.
func (s *State) LastStep(name string) (uint64, bool) {
	v, ok := s.Last[name]
	return v, ok
}

// Rename moves the last step of the profile old to new and saves the
// file when old has one.
func (s *State) Rename(old, new string) error {
	v, ok := s.Last[old]
	if !ok {
		return nil
	}
	delete(s.Last, old)
	s.Last[new] = max(v, s.Last[new])
	return s.save()
}

// Record notes that the profile used step and saves the file.
func (s *State) Record(name string, step uint64) error {
	if old, ok := s.Last[name]; ok && old >= step {
		return nil
	}
	s.Last[name] = step
	return s.save()
}

func (s *State) save() error {
	data, err := json.MarshalIndent(s.Last, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("client state: %w", err)
	}
	return safefile.Write(s.Path, append(data, '\n'), 0o600)
}
