//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFullPath: otpknockd is looked for beside otpknock, then on PATH;
// found nowhere, the error says what is missing and how to fix it.
func TestFullPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	_, err := FullPath()
	if err == nil || !strings.Contains(err.Error(), "otpknockd runs this command") || !strings.Contains(err.Error(), "install it") {
		t.Errorf("FullPath() without otpknockd: %v", err)
	}
	full := filepath.Join(dir, "otpknockd")
	if err := os.WriteFile(full, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FullPath(); err != nil || got != full {
		t.Errorf("FullPath() = %q, %v; want %q", got, err, full)
	}
}

// TestRunFullExitStatus runs a child as otpknockd is run for decode-qr:
// its exit status comes back as the error's exit code.
func TestRunFullExitStatus(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = runFull(context.Background(), sh, []string{"-c", "cat; exit 3"}, nil, strings.NewReader("png"), &out, io.Discard)
	if ExitCode(err) != 3 || out.String() != "png" {
		t.Errorf("runFull: exit code %d (%v), stdout %q; want 3 and %q", ExitCode(err), err, out.String(), "png")
	}
	none := filepath.Join(t.TempDir(), "none")
	err = runFull(context.Background(), none, nil, nil, nil, io.Discard, io.Discard)
	if !errors.As(err, new(HandoffError)) || !strings.Contains(err.Error(), none) || ExitCode(err) != ExitFailure {
		t.Errorf("runFull of a missing program: %v (exit %d), want a HandoffError naming %s, exit %d", err, ExitCode(err), none, ExitFailure)
	}
}

// TestHandoffTellsVersion runs a stand-in otpknockd from PATH as import
// runs decode-qr: it gets the arguments, the input and otpknock's version
// in ClientVersionEnv.
func TestHandoffTellsVersion(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	script := "#!/bin/sh\nprintf '%s %s %s\\n' \"$" + ClientVersionEnv + "\" \"$*\" \"$(/bin/cat)\"\n"
	if err := os.WriteFile(filepath.Join(dir, Full), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := &Env{Version: "v9.8.7"}
	if err := env.handoff(context.Background(), []string{DecodeQRCommand}, strings.NewReader("png"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "v9.8.7 decode-qr png\n"; out.String() != want {
		t.Errorf("otpknockd saw %q, want %q", out.String(), want)
	}
}
