package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
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
		{"completion of help", []string{"__complete", "help", "user", ""}, [][]string{{"__complete", "help", "user", ""}}},
		{"client completion of help", []string{"__complete", "help", "profiles", ""}, nil},
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
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			h := &handoffs{answer: func([]string, io.Writer, io.Writer) error { return exitStatus(code) }}
			_, _, err := runWith(t, h, "", "server", "--config", "missing.yaml")
			if got := ExitCode(err); got != code || err.Error() != "" {
				t.Errorf("otpknockd exits %d: otpknock's exit code %d, message %q; want %d and none", code, got, err.Error(), code)
			}
		})
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
	const warning = "otpknock: warning: otpknock v1 handed this command to otpknockd v2: install both from one release"
	t.Run("decoded, with a warning", func(t *testing.T) {
		h := &handoffs{answer: func(_ []string, stdout, stderr io.Writer) error {
			io.WriteString(stderr, warning+"\n")
			_, err := io.WriteString(stdout, uri+"\n")
			return err
		}}
		_, stderr, err := runWith(t, h, "", "import", file)
		if err != nil || !strings.HasPrefix(stderr, warning+"\n") {
			t.Errorf("import: %v, stderr %q; want no error and the warning first", err, stderr)
		}
	})
	for _, tc := range []struct {
		name, stderr, want, warned string
		code                       int
	}{
		{"refused", "otpknock: no QR code found in the image\n", file + ": no QR code found in the image", "", ExitUsage},
		{"refused, with a warning", warning + "\notpknock: no QR code found in the image\n", file + ": no QR code found in the image", warning + "\n", ExitUsage},
		{"silent failure", "", file + ": otpknockd decode-qr: exit status 3", "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &handoffs{answer: func(_ []string, _, stderr io.Writer) error {
				io.WriteString(stderr, tc.stderr)
				return exitStatus(tc.code)
			}}
			_, stderr, err := runWith(t, h, "", "import", file)
			if err == nil || err.Error() != tc.want || ExitCode(err) != ExitUsage {
				t.Errorf("import error %v (exit %d), want %q (exit %d)", err, ExitCode(err), tc.want, ExitUsage)
			}
			if stderr != tc.warned {
				t.Errorf("stderr %q, want %q", stderr, tc.warned)
			}
		})
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
		t.Run(tc.client+" "+tc.own, func(t *testing.T) {
			var errb bytes.Buffer
			CheckClientVersion(&Env{Stderr: &errb, Version: tc.own, Getenv: func(k string) string {
				if k == ClientVersionEnv {
					return tc.client
				}
				return ""
			}})
			if errb.String() != tc.want {
				t.Errorf("stderr %q, want %q", errb.String(), tc.want)
			}
		})
	}
}

// TestWithVersion: the variable otpknockd reads is otpknock's version,
// whatever otpknock inherited.
func TestWithVersion(t *testing.T) {
	got := withVersion([]string{"A=1", ClientVersionEnv + "=v0.0.1", "B=2"}, "v1.2.3")
	if diff := cmp.Diff([]string{"A=1", "B=2", ClientVersionEnv + "=v1.2.3"}, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}
