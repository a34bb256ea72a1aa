package servercmd

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHoldPidFile: the server holds its pid file locked, with its pid,
// until release removes it; a second hold refuses, naming the file; a
// pid file it cannot create is an error naming it.
func TestHoldPidFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) (cleanup func())
		want  string // the error, DIR for the directory; "" for none
	}{
		{"fresh, in a directory it creates", nil, ""},
		{"held by another server", func(t *testing.T, path string) func() {
			release, err := holdPidFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return release
		}, "pid file DIR/run/otpknock.pid is held by another server: resource temporarily unavailable"},
		{"its directory is a file", func(t *testing.T, path string) func() {
			writeFile(t, filepath.Dir(path), "")
			return func() {}
		}, "pid file: mkdir DIR/run: not a directory"},
		{"it is a directory", func(t *testing.T, path string) func() {
			if err := os.MkdirAll(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return func() {}
		}, "pid file: open DIR/run/otpknock.pid: is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "run", "otpknock.pid")
			if tt.setup != nil {
				defer tt.setup(t, path)()
			}
			before, _ := os.ReadFile(path)
			release, err := holdPidFile(path)
			if tt.want != "" {
				if err == nil || strings.ReplaceAll(err.Error(), dir, "DIR") != tt.want {
					t.Fatalf("holdPidFile: %v, want %q", err, tt.want)
				}
				if after, _ := os.ReadFile(path); string(after) != string(before) {
					t.Errorf("a refused hold changed the pid file: %q, was %q", after, before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			if held, err := pidFileHeld(path); !held || err != nil || string(data) != strconv.Itoa(os.Getpid())+"\n" {
				t.Errorf("held %v (%v), pid file %q; want held with pid %d", held, err, data, os.Getpid())
			}
			release()
			if _, err := pidFileHeld(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after release: %v, want the pid file gone", err)
			}
		})
	}
}
