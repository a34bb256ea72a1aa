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

	"github.com/google/go-cmp/cmp"
)

// handoffs records the command lines handed to otpknockd, and what each
// read on its standard input.
type handoffs struct {
	args  [][]string
	stdin []string
	// answer writes what otpknockd would and returns its error.
	answer func(args []string, stdout, stderr io.Writer) error
}

func (h *handoffs) run(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	h.args = append(h.args, args)
	in := "<inherited>"
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		in = string(b)
	}
	h.stdin = append(h.stdin, in)
	if h.answer != nil {
		return h.answer(args, stdout, stderr)
	}
	return nil
}

func runWith(t *testing.T, h *handoffs, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	store := filepath.Join(t.TempDir(), "client.yaml")
	err = Run(context.Background(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			if k == "OTPKNOCK_CLIENT_CONFIG" {
				return store
			}
			return ""
		}, Handoff: h.run})
	return out.String(), errb.String(), err
}

// TestHandoff: the commands otpknock leaves out reach otpknockd with
// their command line untouched (flags, help and completion requests
// included), in this process's place (the inherited standard input);
// the client's commands never do.
func TestHandoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want [][]string
	}{
		{"init", []string{"init", "--config", "c.yaml", "--server-id", "gw1"}, [][]string{{"init", "--config", "c.yaml", "--server-id", "gw1"}}},
		{"user add", []string{"user", "add", "alice", "-c", "c.yaml", "--open", "tcp/22"}, [][]string{{"user", "add", "alice", "-c", "c.yaml", "--open", "tcp/22"}}},
		{"server help", []string{"server", "--help"}, [][]string{{"server", "--help"}}},
		{"unknown flag", []string{"firewall", "status", "--nope"}, [][]string{{"firewall", "status", "--nope"}}},
		{"tui", []string{"tui"}, [][]string{{"tui"}}},
		{"help user", []string{"help", "user", "add"}, [][]string{{"help", "user", "add"}}},
		{"completion", []string{"__complete", "user", "show", ""}, [][]string{{"__complete", "user", "show", ""}}},
		{"client command", []string{"profiles"}, nil},
		{"client help", []string{"help", "send"}, nil},
		{"client completion", []string{"__complete", "show", ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &handoffs{}
			if _, _, err := runWith(t, h, "", tc.args...); err != nil {
				t.Fatalf("otpknock %v: %v", tc.args, err)
			}
			if diff := cmp.Diff(tc.want, h.args); diff != "" {
				t.Errorf("handed off (-want +got):\n%s", diff)
			}
			for _, in := range h.stdin {
				if in != "<inherited>" {
					t.Errorf("handed off with standard input %q, want the inherited one", in)
				}
			}
		})
	}
}

// TestHandoffExitStatus: otpknockd's exit status is otpknock's, and
// otpknock adds no message of its own to what otpknockd said.
func TestHandoffExitStatus(t *testing.T) {
	for _, code := range []int{ExitFailure, ExitUsage, 3} {
		h := &handoffs{answer: func([]string, io.Writer, io.Writer) error { return exitStatus(code) }}
		_, _, err := runWith(t, h, "", "server", "--config", "missing.yaml")
		if got := ExitCode(err); got != code || err.Error() != "" {
			t.Errorf("otpknockd exits %d: otpknock's exit code %d, message %q; want %d and none", code, got, err.Error(), code)
		}
	}
}

// TestImportPNGHandoff: a QR code PNG goes to otpknockd's decode-qr on
// its standard input, never in an argument, and the URI it prints is
// imported; its refusal names the file.
func TestImportPNGHandoff(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n" + "rest of the image"
	file := filepath.Join(t.TempDir(), "alice.png")
	if err := os.WriteFile(file, []byte(png), 0o600); err != nil {
		t.Fatal(err)
	}
	const uri = "otpauth://totp/otpknock:alice@gw1?algorithm=SHA256&digits=6&host=198.18.0.1&issuer=otpknock&knocks=4&open=tcp%2F22&otpknock=1&period=30&protocols=tcp%2Cudp&range=20000-59999&secret=GAYTEMZUGU3DOOBZMFRGGZDFMYYDCMRTGQ2TMNZYHFQWEY3EMVTA&server=gw1&user=alice"
	t.Run("decoded", func(t *testing.T) {
		h := &handoffs{answer: func(_ []string, stdout, _ io.Writer) error {
			_, err := io.WriteString(stdout, uri+"\n")
			return err
		}}
		out, _, err := runWith(t, h, "", "import", file)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{{DecodeQRCommand}}, h.args); diff != "" {
			t.Errorf("handed off (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{png}, h.stdin); diff != "" {
			t.Errorf("decode-qr's standard input (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(out, "Imported profile gw1 (alice@gw1") {
			t.Errorf("import printed %q", out)
		}
	})
	t.Run("refused", func(t *testing.T) {
		h := &handoffs{answer: func(_ []string, _, stderr io.Writer) error {
			io.WriteString(stderr, "otpknock: no QR code found in the image\n")
			return exitStatus(ExitUsage)
		}}
		_, _, err := runWith(t, h, "", "import", file)
		if want := file + ": no QR code found in the image"; err == nil || err.Error() != want {
			t.Errorf("import error %v, want %q", err, want)
		}
	})
}

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
	if err := runFull(context.Background(), filepath.Join(t.TempDir(), "none"), nil, nil, nil, io.Discard, io.Discard); err == nil || errors.As(err, new(exitStatus)) {
		t.Errorf("runFull of a missing program: %v, want an error that is no exit status", err)
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

// TestCheckClientVersion: otpknockd warns, in one line, when the
// otpknock that handed it the command is of another release.
func TestCheckClientVersion(t *testing.T) {
	for _, tc := range []struct{ client, own, want string }{
		{"", "v1.2.3", ""},
		{"v1.2.3", "v1.2.3", ""},
		{"v1.2.2", "v1.2.3", "otpknock: warning: otpknock v1.2.2 handed this command to otpknockd v1.2.3: install both from one release\n"},
	} {
		var errb bytes.Buffer
		CheckClientVersion(&Env{Stderr: &errb, Version: tc.own, Getenv: func(k string) string {
			if k == ClientVersionEnv {
				return tc.client
			}
			return ""
		}})
		if errb.String() != tc.want {
			t.Errorf("client %q, otpknockd %q: stderr %q, want %q", tc.client, tc.own, errb.String(), tc.want)
		}
	}
}
