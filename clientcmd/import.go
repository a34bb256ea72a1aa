package clientcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/qr"
	"io"
	"os"
	"strings"

	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
	"github.com/spf13/cobra"
)

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func newImportCmd(env *Env) *cobra.Command {
	var name, host, key string
	c := &cobra.Command{
		Use:   "import URI|FILE.png|FILE|-",
		Short: "Import a profile from a provisioning URI or QR code PNG",
		Long: `Import a profile from an otpauth:// provisioning URI: given as the
argument, read from standard input (-), or from a file holding the URI or
a PNG of its QR code. Prefer - or a file: a URI on the command line
(with its secret) lands in shell history and is visible in ps. On a
terminal, - prompts and reads one line without echoing it.`,
		Example: "  otpknock import -            # paste the URI, then Enter (Ctrl-C cancels)\n  otpknock import alice.png --name work",
		Args:    args(1, 1, "one URI, FILE or -"),
		RunE: func(cmd *cobra.Command, a []string) error {
			uri, err := readURI(cmd.Context(), env, a[0])
			if err != nil {
				return usage(err)
			}
			acct, err := provision.ParseURI(uri)
			if err != nil {
				return usage(err)
			}
			if host != "" {
				acct.Host = host
			}
			if acct.Host == "" {
				return usage(fmt.Errorf("the URI names no host to knock: pass --host"))
			}
			s, err := openStore(env)
			if err != nil {
				return usage(err)
			}
			// A second profile of an account is deliberate only when named.
			if had, ok := s.Imported(acct); ok && name == "" {
				return usageErrorf("this account (user %s of server %s) is already imported as profile %s (to add it again under another name, pass --name)",
					provision.Printable(acct.User), provision.Printable(acct.ServerID), had)
			}
			if name == "" {
				name = s.DefaultName(acct)
			}
			if err := s.AttachKey(&acct, key); err != nil { // an ed25519 account's key, from keygen
				return usage(fmt.Errorf("--key: %w", err))
			}
			p := profile.Profile{Name: name, Account: acct}
			if err := s.Add(p); err != nil {
				return usage(err)
			}
			if err := s.Save(); err != nil {
				return err
			}
			pr := provision.Printable
			scope := pr(acct.ServerID)
			if acct.Fleet != "" {
				scope = "fleet " + pr(acct.Fleet) + ": any member, by the name knocked"
			}
			fmt.Fprintf(env.Stdout, "Imported profile %s (%s@%s, knocks %s, opens %s) into %s.\n",
				pr(p.Name), pr(acct.User), scope, pr(acct.Host), cli.KnockList(acct.Open), pr(s.Path))
			if strings.HasPrefix(strings.TrimSpace(a[0]), "otpauth://") {
				fmt.Fprintln(env.Stderr, "note: the URI and its secret were on the command line; clear them from your shell history (next time use: otpknock import -)")
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "profile name (default: the server id, or user@server)")
	c.Flags().StringVar(&host, "host", "", "host to knock, overriding the URI's")
	c.Flags().StringVar(&key, "key", "", "for an account that signs its knocks: the keygen key the server enrolled (default: the only one)")
	return c
}

// maxInput is the most import reads from a file or standard input.
const maxInput = provision.MaxFileBytes

// readURI returns the URI given directly, on stdin (-), or in a file
// holding the URI text or a QR code PNG. Reading stops at maxInput bytes
// and when ctx ends (SIGINT, SIGTERM).
func readURI(ctx context.Context, env *Env, arg string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(arg), "otpauth://") {
		return arg, nil
	}
	if fd, ok := terminal(env.Stdin); ok && arg == "-" {
		return readTerminalLine(ctx, env, fd)
	}
	r := env.Stdin
	if arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", arg, err)
		}
		defer f.Close()
		r = f
	}
	data, err := readAll(ctx, r, maxInput)
	if errors.Is(err, errTooLarge) {
		return "", fmt.Errorf("%s: file too large: more than %d MiB, a provisioning URI or its QR code PNG is far smaller", arg, maxInput>>20)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", arg, err)
	}
	if bytes.HasPrefix(data, pngMagic) {
		uri, err := decodePNG(env, data)
		if err != nil {
			return "", fmt.Errorf("%s: %w", arg, err)
		}
		return uri, nil
	}
	uri := strings.TrimSpace(string(data))
	if !strings.HasPrefix(uri, "otpauth://") {
		return "", fmt.Errorf("%s: neither an otpauth:// URI nor a PNG QR code", arg)
	}
	return uri, nil
}

// errTooLarge is readAll's error for input longer than its limit.
var errTooLarge = errors.New("too large")

// readAll reads r to its end, at most limit bytes, returning when ctx
// ends even if a read blocks (a terminal, a pipe nobody writes).
func readAll(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, limit+1))
		done <- result{data, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	case res := <-done:
		if res.err == nil && int64(len(res.data)) > limit {
			return nil, errTooLarge
		}
		return res.data, res.err
	}
}

// ctxReader stops reading once its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// decodePNG reads the URI of a QR code PNG: with Env's DecodePNG, else
// with package qr's decoder, in this process.
func decodePNG(env *Env, png []byte) (string, error) {
	if env.DecodePNG != nil {
		return env.DecodePNG(png)
	}
	return qr.DecodePNG(png)
}
