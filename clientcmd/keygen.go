package clientcmd

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

func newKeygenCmd(env *Env) *cobra.Command {
	var name string
	var showPrivate bool
	c := &cobra.Command{
		Use:   "keygen [--name alice@laptop]",
		Short: "Make an Ed25519 key pair and print its public key line",
		Long: `Make an Ed25519 key pair for packet knocks that the server verifies
with the public key alone (docs/spec.md section 11.11), keep it in the
profile store (mode 0600) and print its public key line,
"otpknock-ed25519 BASE64 NAME". Give that line to the server's
administrator (otpknockd user add NAME --key 'LINE'), then import the
URI they send back: it carries no credential that can knock. The
private key is never printed unless --show-private asks for it.`,
		Example: "  otpknock keygen --name alice@laptop",
		Args:    args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openStore(env)
			if err != nil {
				return usage(err)
			}
			if name == "" {
				name = defaultKeyName(env)
			}
			k, err := s.GenerateKey(name, rand.Reader)
			if err != nil {
				return usage(fmt.Errorf("--name: %w", err))
			}
			if err := s.Save(); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, k.Line())
			fmt.Fprintf(env.Stderr, "Key %s (%s) saved in %s (mode 0600).\n", k.Name, derive.Fingerprint(k.Private.Public().(ed25519.PublicKey)), s.Path)
			if showPrivate {
				fmt.Fprintf(env.Stdout, "private seed (Base32; whoever holds it knocks as you): %s\n", derive.EncodeSecret(k.Private.Seed()))
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "the key's name, printed at the end of its line (default: USER@HOST)")
	c.Flags().BoolVar(&showPrivate, "show-private", false, "also print the private seed (for a backup)")
	return c
}

// defaultKeyName is $USER@$HOSTNAME, as ssh-keygen names keys, or
// otpknock when neither is set.
func defaultKeyName(env *Env) string {
	u, h := env.Getenv("USER"), env.Getenv("HOSTNAME")
	switch {
	case u != "" && h != "":
		return u + "@" + h
	case u != "":
		return u
	}
	return "otpknock"
}
