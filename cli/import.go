package cli

import (
	"bytes"
	"fmt"
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
	var name, host string
	c := &cobra.Command{
		Use:   "import URI|FILE.png|FILE|-",
		Short: "Import a profile from a provisioning URI or QR code PNG",
		Long: `Import a profile from an otpauth:// provisioning URI: given as the
argument, read from standard input (-), or from a file holding the URI or
a PNG of its QR code. Prefer - or a file: a URI on the command line
(with its secret) lands in shell history and is visible in ps.`,
		Example: "  otpknock import -            # paste the URI, then ctrl-d\n  otpknock import alice.png --name work",
		Args:    args(1, 1, "one URI, FILE or -"),
		RunE: func(cmd *cobra.Command, a []string) error {
			uri, err := readURI(env, a[0])
			if err != nil {
				return err
			}
			acct, err := provision.ParseURI(uri)
			if err != nil {
				return err
			}
			if host != "" {
				acct.Host = host
			}
			if acct.Host == "" {
				return fmt.Errorf("the URI names no host to knock: pass --host")
			}
			s, err := openStore(env)
			if err != nil {
				return err
			}
			if name == "" {
				name = s.DefaultName(acct)
			}
			p := profile.Profile{Name: name, Account: acct}
			if err := s.Add(p); err != nil {
				return err
			}
			if err := s.Save(); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Imported profile %s (%s@%s, knocks %s, opens %s) into %s.\n",
				p.Name, acct.User, acct.ServerID, acct.Host, knockList(acct.Open), s.Path)
			if strings.HasPrefix(strings.TrimSpace(a[0]), "otpauth://") {
				fmt.Fprintln(env.Stderr, "note: the URI and its secret were on the command line; clear them from your shell history (next time use: otpknock import -)")
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "profile name (default: the server id, or user@server)")
	c.Flags().StringVar(&host, "host", "", "host to knock, overriding the URI's")
	return c
}

// readURI returns the URI given directly, on stdin (-), or in a file
// holding the URI text or a QR code PNG.
func readURI(env *Env, arg string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(arg), "otpauth://") {
		return arg, nil
	}
	var data []byte
	var err error
	if arg == "-" {
		data, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
	} else {
		data, err = os.ReadFile(arg)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", arg, err)
	}
	if bytes.HasPrefix(data, pngMagic) {
		uri, err := provision.ReadPNG(bytes.NewReader(data))
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
