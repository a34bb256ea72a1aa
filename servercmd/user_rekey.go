package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
	"github.com/spf13/cobra"
)

type userRekeyFlags struct {
	key      keyFlags
	host     string
	noQR     bool
	noReload bool
}

func newUserRekeyCmd(env *Env, path *string) *cobra.Command {
	var f userRekeyFlags
	c := &cobra.Command{
		Use:               "rekey NAME --key LINE | --key-file FILE | --generate",
		ValidArgsFunction: cli.CompleteFirst(userNames),
		Short:             "Replace an ed25519 user's public key",
		Long: `Replace the public key of an ed25519 user (auth: ed25519): the new
line from otpknock keygen (--key, --key-file), or a pair made here
(--generate), whose private key goes into the printed URI once. Knocks
signed with the old key stop opening when the server reloads (at once,
unless --no-reload). The locator secret and the user's other settings
stay: a client with the new key keeps its profile (otpknock import the
URI again to attach a new key).`,
		Example: "  otpknockd user rekey alice --key 'otpknock-ed25519 AAAA... alice@new-laptop'",
		Args:    cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			return userRekey(env, *path, a[0], f)
		},
	}
	addKeyFlags(c, &f.key, false)
	c.Flags().StringVar(&f.host, "host", "", "address clients knock, in a --generate URI (default: host in the config)")
	c.Flags().BoolVar(&f.noQR, "no-qr", false, "do not print the QR code of a --generate URI")
	c.Flags().BoolVar(&f.noReload, "no-reload", false, "do not reload a running server; print the command instead")
	return c
}

// userRekey validates everything, then writes the config once.
func userRekey(env *Env, path, name string, f userRekeyFlags) error {
	cfg, err := config.Load(path)
	if err != nil {
		return cli.Usage(err)
	}
	u, ok := cfg.User(name)
	switch {
	case !ok:
		return cli.UsageErrorf("no user %q in %s", name, cfg.Path)
	case u.Auth != derive.AuthEd25519:
		return cli.UsageErrorf("user %s authenticates with %s: only ed25519 users have a key to replace", name, u.Auth)
	}
	f.key.auth = derive.AuthEd25519.String()
	en, err := f.key.resolve(name, cfg.ServerID, env.Stdin)
	if err != nil {
		return cli.Usage(err)
	}
	var uri string
	if en.private != nil {
		if uri, err = generatedURI(cfg, u, f.host, en); err != nil {
			return cli.Usage(err)
		}
	}
	old := derive.Fingerprint(u.PublicKey)
	if cfg, err = config.SetPublicKey(path, name, en.line); err != nil {
		return editError(err)
	}
	u, _ = cfg.User(name)
	fmt.Fprintf(env.Stdout, "Replaced the public key of user %s in %s: %s, was %s.\n", name, cfg.Path, derive.Fingerprint(u.PublicKey), old)
	if uri != "" {
		printURI(env, uriHeader(u, true), uri, "", f.noQR)
	}
	if f.noReload {
		notReloaded(env.Stdout, cfg)
	} else {
		reloadServer(env, env.Stdout, cfg)
	}
	return nil
}

// generatedURI is the URI of u with the private key of a pair made here.
func generatedURI(cfg *config.Config, u config.User, hostFlag string, en enrolment) (string, error) {
	host, err := knockHost(hostFlag, cfg.Host, cfg.Path)
	if err != nil {
		return "", err
	}
	locator, err := cfg.ReadSecret(u.Name)
	if err != nil {
		return "", err
	}
	acct := provision.Account{ServerID: cfg.ServerID, User: u.Name, Host: host, Secret: locator, Params: cfg.Params,
		Open: u.Open, BindSource: u.BindSource, Knock: u.Knock, Auth: en.auth, PrivateKey: en.private}
	return acct.URI()
}
