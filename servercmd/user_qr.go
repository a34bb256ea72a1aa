package servercmd

import (
	"fmt"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/internal/safefile"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/qr"
	"github.com/spf13/cobra"
)

type userQRFlags struct {
	host  string
	qrPNG string
	noQR  bool
}

func newUserQRCmd(env *Env, path *string) *cobra.Command {
	var f userQRFlags
	c := &cobra.Command{
		Use:               "qr NAME [--qr-png FILE] [--no-qr] [--host HOST]",
		ValidArgsFunction: cli.CompleteFirst(userNames),
		Short:             "Print a user's provisioning URI and QR code again",
		Long: `Print the provisioning URI and QR code of an existing user again, from
the config and the user's secret file: for a lost PNG, a new phone, or
after a change of host, step, knocks, knock_range, protocols or exclude,
which every user must import again. The URI holds the secret: hand it
over privately. Nothing in the config or the secret changes.`,
		Example: "  otpknockd user qr alice --qr-png alice.png",
		Args:    cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			return userQR(env, *path, a[0], f)
		},
	}
	c.Flags().StringVar(&f.host, "host", "", "address clients knock (default: host in the config)")
	c.Flags().StringVar(&f.qrPNG, "qr-png", "", "also write the QR code to this PNG file (mode 0600)")
	c.Flags().BoolVar(&f.noQR, "no-qr", false, "do not print the QR code")
	return c
}

// userQR checks every input first, then writes the PNG (mode 0600) and
// prints the URI and QR code; the config and secret are only read.
func userQR(env *Env, path, name string, f userQRFlags) error {
	cfg, err := config.Load(path)
	if err != nil {
		return cli.Usage(err)
	}
	u, ok := cfg.User(name)
	if !ok {
		return cli.UsageErrorf("no user %q in %s", name, cfg.Path)
	}
	if err := checkStrength(cfg); err != nil {
		return cli.Usage(err)
	}
	host, err := knockHost(f.host, cfg.Host, cfg.Path)
	if err != nil {
		return cli.Usage(err)
	}
	if err := checkOutFile("--qr-png", f.qrPNG); err != nil {
		return cli.Usage(err)
	}
	secret, err := cfg.ReadSecret(name)
	if err != nil {
		return cli.Usage(err)
	}
	acct := provision.Account{ServerID: cfg.ServerID, User: name, Host: host, Secret: secret,
		Params: cfg.Params, Open: u.Open, BindSource: u.BindSource, Knock: u.Knock, Auth: u.Auth}
	uri, err := acct.URI()
	if err != nil {
		return cli.Usage(err)
	}
	if f.qrPNG != "" {
		png, err := qr.PNG(uri, 512)
		if err != nil {
			return fmt.Errorf("--qr-png: %w", err)
		}
		if err := safefile.Write(f.qrPNG, png, 0o600); err != nil {
			return fmt.Errorf("--qr-png: %w", err)
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "User %s of %s: opens %s, from %s%s, %s knock.\n", u.Name, cfg.Path, cli.KnockList(u.Open), fromList(u), bindNote(u.BindSource), u.Knock)
	fmt.Fprint(w, keyNote(cfg, u))
	printURI(env, uriHeader(u, false), uri, f.qrPNG, f.noQR)
	return nil
}
