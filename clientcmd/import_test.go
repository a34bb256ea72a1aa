package clientcmd

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
)

// hugePNG is a valid PNG header declaring 2^29 x 2^29 grey pixels, with
// one tiny data chunk: 65 bytes.
func hugePNG() []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		start := len(b)
		b = append(append(b, typ...), data...)
		b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	}
	chunk("IHDR", []byte{0x20, 0, 0, 0, 0x20, 0, 0, 0, 8, 0, 0, 0, 0})
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b
}

// zeros reads as an endless stream of zero bytes, as /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// runImport runs otpknock import with stdin r and ctx, failing the test
// if it has not returned after a minute (it used to read forever).
func runImport(t *testing.T, ctx context.Context, h *harness, r io.Reader, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"import"}, args...), Env{Env: cli.Env{
			Stdin: r, Stdout: &out, Stderr: io.Discard,
			Getenv: func(k string) string { return h.env[k] }, Clock: h.clock,
		}})
	}()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(time.Minute):
		t.Fatalf("import %v did not return", args)
		return "", nil
	}
}

// TestImportBoundedInput: huge images, endless input and input that
// never comes end in one clear line, exit code 2, no profile written.
func TestImportBoundedInput(t *testing.T) {
	h := newHarness(t)
	png := h.path("huge.png")
	os.WriteFile(png, hugePNG(), 0o600)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	blocked, _ := io.Pipe() // a terminal nobody types into
	soon, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	tests := []struct {
		name string
		ctx  context.Context
		r    io.Reader
		args []string
		want string
	}{
		{"2^29 x 2^29 PNG", context.Background(), nil, []string{png}, "536870912x536870912 pixels too large"},
		{"endless stdin", context.Background(), zeros{}, []string{"-"}, "-: file too large: more than 8 MiB"},
		{"endless PNG on stdin", context.Background(), io.MultiReader(strings.NewReader("\x89PNG\r\n\x1a\n"), zeros{}), []string{"-"}, "file too large"},
		{"endless stdin, cancelled", cancelled, zeros{}, []string{"-"}, "interrupted"},
		{"blocked stdin, signalled", soon, blocked, []string{"-"}, "interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runImport(t, tt.ctx, h, tt.r, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tt.want)
			}
			if cli.ExitCode(err) != cli.ExitUsage {
				t.Errorf("exit code %d, want %d", cli.ExitCode(err), cli.ExitUsage)
			}
		})
	}
	if _, err := os.Stat(h.env["OTPKNOCK_CLIENT_CONFIG"]); !os.IsNotExist(err) {
		t.Errorf("failed imports created the profile store")
	}
}

// accountURI returns a valid URI with the query field set to value.
func accountURI(t *testing.T, field, value string) string {
	t.Helper()
	a := provision.Account{ServerID: "gw1", User: "alice", Host: "198.18.0.1", Secret: bytes.Repeat([]byte{7}, 32),
		Params: derive.DefaultParams(), Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}}
	uri, err := a.URI()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	q := u.Query()
	q.Set(field, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestImportNoControlCharacters: a URI whose server, user or host holds
// terminal escapes is refused naming the field, and nothing import
// prints carries a control character, a --host given by hand included.
func TestImportNoControlCharacters(t *testing.T) {
	h := newHarness(t)
	for _, field := range []string{"server", "user", "host"} {
		for _, v := range []string{"gw1\x1b]0;owned\x07", "gw1\nImported", "gw1\x1b[2J"} {
			out, err := runImport(t, context.Background(), h, strings.NewReader(accountURI(t, field, v)), "-")
			if err == nil || !strings.HasPrefix(err.Error(), "provisioning URI: "+field+": ") || hasControl(err.Error()) {
				t.Errorf("%s=%q: err = %v", field, v, err)
			}
			if out != "" {
				t.Errorf("%s=%q: printed %q", field, v, out)
			}
		}
	}
	out, err := runImport(t, context.Background(), h, strings.NewReader(accountURI(t, "host", "knock.example.org")), "-",
		"--host", "evil\x1b]0;x\x07")
	if err != nil {
		t.Fatal(err)
	}
	if hasControl(out) || !strings.Contains(out, `knocks evil\x1b]0;x\x07`) {
		t.Errorf("import printed %q", out)
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }) >= 0
}
