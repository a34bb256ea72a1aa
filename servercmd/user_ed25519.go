package servercmd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

// keyFlags are how a command gets an ed25519 user's public key: a key
// line, a file holding one, or a pair made here.
type keyFlags struct {
	auth     string
	line     string
	file     string
	generate bool
}

// addKeyFlags registers --key, --key-file and --generate on c (and
// --auth when withAuth).
func addKeyFlags(c *cobra.Command, f *keyFlags, withAuth bool) {
	if withAuth {
		c.Flags().StringVar(&f.auth, "auth", "", "how a packet user's knocks are authenticated: hmac (a shared secret, the default) or ed25519 (the user's key; the server keeps its public half)")
	}
	c.Flags().StringVar(&f.line, "key", "", "the user's public key line, as otpknock keygen prints it (implies --auth ed25519 --knock packet)")
	c.Flags().StringVar(&f.file, "key-file", "", "read the public key line from this file (- for standard input)")
	c.Flags().BoolVar(&f.generate, "generate", false, "make the key pair here and put the private key in the URI, once: the server keeps the public key only")
}

// enrolment is what the key flags resolved to: the auth, the public key
// line the config stores, and the private key of a pair made here.
type enrolment struct {
	auth    derive.Auth
	line    string
	private ed25519.PrivateKey
}

// resolve reads the key flags for user name: exactly one source of the
// key for an ed25519 user, none for an hmac one. stdin serves
// --key-file -.
func (f keyFlags) resolve(name, serverID string, stdin io.Reader) (enrolment, error) {
	n := 0
	for _, set := range []bool{f.line != "", f.file != "", f.generate} {
		if set {
			n++
		}
	}
	auth, err := derive.ParseAuth(f.auth)
	if err != nil {
		return enrolment{}, fmt.Errorf("--auth: %w", err)
	}
	switch {
	case n > 1:
		return enrolment{}, errors.New("--key, --key-file and --generate: give one of them")
	case n == 0 && auth == derive.AuthEd25519:
		return enrolment{}, errors.New("--auth ed25519: give the user's public key line (--key or --key-file, from otpknock keygen) or --generate")
	case n == 0:
		return enrolment{auth: derive.AuthHMAC}, nil
	case f.auth != "" && auth != derive.AuthEd25519:
		return enrolment{}, errors.New("--auth hmac: --key, --key-file and --generate are for --auth ed25519")
	}
	e := enrolment{auth: derive.AuthEd25519}
	switch {
	case f.generate:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return enrolment{}, fmt.Errorf("--generate: %w", err)
		}
		e.line, e.private = derive.FormatKeyLine(pub, name+"@"+serverID), priv
		return e, nil
	case f.file != "":
		if e.line, err = readKeyFile(f.file, stdin); err != nil {
			return enrolment{}, fmt.Errorf("--key-file: %w", err)
		}
	default:
		e.line = f.line
	}
	if _, _, err := derive.ParseKeyLine(e.line); err != nil {
		return enrolment{}, fmt.Errorf("--key: %w", err)
	}
	e.line = strings.TrimSpace(e.line)
	return e, nil
}

// readKeyFile returns the first line of path (or stdin for -) that is
// neither empty nor a # comment.
func readKeyFile(path string, stdin io.Reader) (string, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	for _, l := range bytes.Split(data, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 && l[0] != '#' {
			return string(l), nil
		}
	}
	return "", fmt.Errorf("%s holds no public key line", path)
}

// keyNote describes an ed25519 user's credentials for user add, show and
// rekey: what the server keeps, and the key's fingerprint.
func keyNote(cfg *config.Config, u config.User) string {
	if u.Auth != derive.AuthEd25519 {
		return ""
	}
	return fmt.Sprintf("Public key: %s (the server keeps no private key); locator secret: %s (it finds the knock's port, it cannot open).\n",
		derive.Fingerprint(u.PublicKey), cfg.SecretPath(u.Name))
}

// uriHeader introduces a user's provisioning URI: what it holds, and so
// how to hand it over.
func uriHeader(u config.User, generated bool) string {
	switch {
	case generated:
		return "Provisioning URI (it holds the user's private key, which the server did not keep: hand it over privately, once):"
	case u.Auth == derive.AuthEd25519:
		return "Provisioning URI (no credential that can knock: its locator finds the port, the client's own key signs; still, hand it over privately):"
	}
	return "Provisioning URI (it holds the secret; hand it over privately):"
}
