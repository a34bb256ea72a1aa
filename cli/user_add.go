package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/safefile"
	"github.com/otpknock/otpknock/provision"
	"github.com/spf13/cobra"
)

type userAddFlags struct {
	open, from []string
	bind       bool
	host       string
	qrPNG      string
	noQR       bool
	secretSize int
	knock      string
	noReload   bool
}

func newUserAddCmd(env *Env, path *string) *cobra.Command {
	var f userAddFlags
	c := &cobra.Command{
		Use:   "add NAME [--open tcp/22]... [--from CIDR]... [--bind-source] [--knock packet] [--qr-png FILE]",
		Short: "Add a user: generate the secret, print the URI and QR code",
		Long: `Add a user to the config, generate their secret (mode 0600 under
secrets_dir) and print the provisioning URI and its QR code. The URI holds
the secret: hand it over privately.`,
		Example: "  otpknock user add alice --open tcp/22 --from 198.18.0.0/15 --qr-png alice.png",
		Args:    args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			return userAdd(env, *path, a[0], f)
		},
	}
	c.Flags().StringSliceVar(&f.open, "open", []string{"tcp/22"}, "service the knock opens, PROTO/PORT (repeatable)")
	c.Flags().StringSliceVar(&f.from, "from", nil, "source CIDR allowed to knock (repeatable; default any)")
	c.Flags().BoolVar(&f.bind, "bind-source", false, "bind sequences to the client's source address (no NAT between)")
	c.Flags().StringVar(&f.host, "host", "", "address clients knock (default: host in the config)")
	c.Flags().StringVar(&f.qrPNG, "qr-png", "", "also write the QR code to this PNG file (mode 0600)")
	c.Flags().BoolVar(&f.noQR, "no-qr", false, "do not print the QR code")
	c.Flags().IntVar(&f.secretSize, "secret-bytes", 32, "secret length in bytes, 16 or more")
	c.Flags().StringVar(&f.knock, "knock", "sequence", "how the user knocks: sequence, or packet (one UDP or ICMP packet carrying a MAC)")
	c.Flags().BoolVar(&f.noReload, "no-reload", false, "do not reload a running server; print the command instead")
	return c
}

func userAdd(env *Env, path, name string, f userAddFlags) error {
	cfg, err := config.Load(path)
	if err != nil {
		return usage(err)
	}
	host := f.host
	if host == "" {
		host = cfg.Host
	}
	if host == "" {
		return usage(fmt.Errorf("no host to knock: set host in %s or pass --host", path))
	}
	if f.secretSize < derive.MinSecret || f.secretSize > 64 {
		return usage(fmt.Errorf("--secret-bytes: %d must be from %d to 64", f.secretSize, derive.MinSecret))
	}
	mode, err := derive.ParseMode(f.knock)
	if err != nil {
		return usage(fmt.Errorf("--knock: %w", err))
	}
	if _, ok := cfg.User(name); ok {
		return usage(fmt.Errorf("user %q already exists in %s", name, path))
	}
	secret, err := provision.GenerateSecret(f.secretSize)
	if err != nil {
		return err
	}
	if err := cfg.WriteSecret(name, secret); err != nil {
		return err
	}
	secretPath := cfg.SecretPath(name)
	cfg, err = config.AddUser(path, config.NewUser{Name: name, Open: f.open, From: f.from, BindSource: f.bind, Knock: mode})
	if err != nil {
		os.Remove(secretPath) // nothing of a failed add stays behind
		return editError(err)
	}
	u, _ := cfg.User(name)
	acct := provision.Account{ServerID: cfg.ServerID, User: name, Host: host, Secret: secret,
		Params: cfg.Params, Open: u.Open, BindSource: u.BindSource, Knock: u.Knock}
	uri, err := acct.URI()
	if err != nil {
		return err
	}
	if f.qrPNG != "" {
		png, err := provision.PNG(uri, 512)
		if err != nil {
			return err
		}
		if err := safefile.Write(f.qrPNG, png, 0o600); err != nil {
			return usage(fmt.Errorf("--qr-png: %w", err))
		}
	}
	printUser(env.Stdout, cfg, u, uri, f)
	noticeServer(env, cfg, f.noReload)
	return nil
}

func printUser(w io.Writer, cfg *config.Config, u config.User, uri string, f userAddFlags) {
	fmt.Fprintf(w, "Added user %s to %s: opens %s, from %s%s, %s knock.\n", u.Name, cfg.Path, knockList(u.Open), fromList(u), bindNote(u.BindSource), u.Knock)
	fmt.Fprintf(w, "Secret: %s (mode 0600, %d bits).\n", cfg.SecretPath(u.Name), 8*f.secretSize)
	if f.qrPNG != "" {
		fmt.Fprintf(w, "QR code: %s (mode 0600).\n", f.qrPNG)
	}
	fmt.Fprintf(w, "\nProvisioning URI (it holds the secret; hand it over privately):\n%s\n", uri)
	if !f.noQR {
		fmt.Fprintln(w)
		provision.WriteQR(w, uri, provision.TerminalColumns(w))
	}
	fmt.Fprintf(w, "\nOn the client: otpknock import -   (paste the URI), or otpknock import FILE.png\n")
}

// knockList joins services for a table or message; "-" for none.
func knockList(ks []derive.Knock) string {
	if len(ks) == 0 {
		return "-"
	}
	return derive.Knocks(ks).String()
}

func fromList(u config.User) string {
	if len(u.From) == 0 {
		return "any"
	}
	s := make([]string, len(u.From))
	for i, p := range u.From {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func bindNote(b bool) string {
	if b {
		return ", source-bound"
	}
	return ""
}
