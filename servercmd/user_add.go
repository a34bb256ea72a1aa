package servercmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/naming"
	"github.com/otpknock/otpknock/internal/safefile"
	"github.com/otpknock/otpknock/provision"
	"github.com/otpknock/otpknock/qr"
	"github.com/spf13/cobra"
)

type userAddFlags struct {
	open, from  []string
	bind        bool
	host        string
	qrPNG       string
	noQR        bool
	secretSize  int
	knock       string
	knockSet    bool // --knock was given
	noReload    bool
	grantPrefix string // --grant-prefix V4,V6
	key         keyFlags
	stdin       io.Reader // --key-file -
}

func newUserAddCmd(env *Env, s *userScope) *cobra.Command {
	var f userAddFlags
	c := &cobra.Command{
		Use:   "add NAME [--open tcp/22]... [--from CIDR]... [--bind-source] [--knock packet] [--qr-png FILE]",
		Short: "Add a user: generate the secret, print the URI and QR code",
		Long: `Add a user to the config, generate their secret (mode 0600 under
secrets_dir) and print the provisioning URI and its QR code. The URI holds
the secret: hand it over privately.

In a fleet (the config has a fleet section; --local to add to this server
alone): enroll the user once for every member. The enrollment secret is
kept under --enrollments (mode 0600) for members added later (otpknockd
fleet sync); each member gets a key derived for it alone (docs/spec.md
section 14), sealed to it, and applies the user within seconds, without a
reload. The one URI knocks any member by its name or a pool's.`,
		Example: "  otpknockd user add alice --open tcp/22 --from 198.18.0.0/15 --qr-png alice.png\n  otpknockd user add bob --open tcp/22 --host vpn.example.org   # in a fleet: every member",
		Args:    cli.Args(1, 1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			f.knockSet, f.stdin = cmd.Flags().Changed("knock"), env.Stdin
			fl, err := s.onFleet()
			if err != nil {
				return cli.Usage(err)
			}
			if fl {
				if err := localOnlyFlags(cmd, "qr-png", "secret-bytes", "no-reload"); err != nil {
					return err
				}
				return fleetUserAdd(cmd, env, &s.fleet, a[0], fleetUserAddFlags{open: f.open, from: f.from, bind: f.bind,
					host: f.host, knock: f.knock, knockSet: f.knockSet, prefix: f.grantPrefix, noQR: f.noQR, key: f.key, stdin: env.Stdin})
			}
			return userAdd(env, s.fleet.config, a[0], f)
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
	c.RegisterFlagCompletionFunc("knock", cli.CompleteValues("sequence", "packet"))
	c.Flags().StringVar(&f.grantPrefix, "grant-prefix", "", "open the prefix around each granted address, IPv4,IPv6 lengths such as 24,64 (CGNAT pools, IPv6 temporary addresses; default the address alone)")
	c.Flags().BoolVar(&f.noReload, "no-reload", false, "do not reload a running server; print the command instead")
	addKeyFlags(c, &f.key, true)
	c.RegisterFlagCompletionFunc("auth", cli.CompleteValues("hmac", "ed25519"))
	return c
}

// userAdd adds a user all or nothing: it validates every input first,
// then writes the QR code PNG, the secret and the config, and removes
// what it wrote when a later write fails.
func userAdd(env *Env, path, name string, f userAddFlags) error {
	a, err := planUserAdd(path, name, f)
	if err != nil {
		return cli.Usage(err)
	}
	if f.qrPNG != "" {
		if err := safefile.Write(f.qrPNG, a.png, 0o600); err != nil {
			return fmt.Errorf("--qr-png: %w", err)
		}
	}
	undo := func() {
		if f.qrPNG != "" {
			os.Remove(f.qrPNG)
		}
	}
	if err := a.old.WriteSecret(name, a.secret); err != nil {
		undo()
		return err
	}
	if err := a.edit.Write(); err != nil {
		os.Remove(a.old.SecretPath(name)) // nothing of a failed add stays behind
		undo()
		return err
	}
	cfg := a.edit.Config
	u, _ := cfg.User(name)
	printUser(env, cfg, u, a.uri, f)
	warnListening(env, unguarded(a.old, u.Open))
	noticeServer(env, cfg, f.noReload)
	return nil
}

// userAddPlan is a validated user add: what it writes.
type userAddPlan struct {
	old    *config.Config // before the add
	edit   *config.Edit
	secret []byte
	uri    string
	png    []byte // the QR code, when --qr-png
}

// planUserAdd checks every input of user add and prepares its writes;
// it writes nothing.
func planUserAdd(path, name string, f userAddFlags) (*userAddPlan, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	host, err := knockHost(f.host, cfg.Host, path)
	if err != nil {
		return nil, err
	}
	if f.secretSize < derive.MinSecret || f.secretSize > 64 {
		return nil, fmt.Errorf("--secret-bytes: %d must be from %d to 64", f.secretSize, derive.MinSecret)
	}
	mode, err := derive.ParseMode(f.knock)
	if err != nil {
		return nil, fmt.Errorf("--knock: %w", err)
	}
	if _, ok := cfg.User(name); ok {
		return nil, fmt.Errorf("user %q already exists in %s", name, path)
	}
	en, err := f.key.resolve(name, cfg.ServerID, f.stdin)
	if err != nil {
		return nil, err
	}
	if en.auth == derive.AuthEd25519 {
		if f.knockSet && mode != derive.ModePacket {
			return nil, errors.New("--knock: ed25519 keys sign packet knocks: drop --knock sequence")
		}
		mode = derive.ModePacket
	}
	open, err := uniqueServices(f.open)
	if err != nil {
		return nil, err
	}
	var gp config.GrantPrefix
	if f.grantPrefix != "" {
		if gp, err = config.ParseGrantPrefix(f.grantPrefix); err != nil {
			return nil, fmt.Errorf("--grant-prefix: %w", err)
		}
	}
	if err := checkOutsideRange(cfg, open); err != nil {
		return nil, err
	}
	if err := checkOutFile("--qr-png", f.qrPNG); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(cfg.SecretPath(name)); err == nil {
		return nil, fmt.Errorf("%s already exists: delete the stale secret file first", cfg.SecretPath(name))
	}
	e, err := config.PrepareAddUser(path, config.NewUser{Name: name, Open: open, From: f.from, BindSource: f.bind, Knock: mode, PublicKey: en.line, GrantPrefix: gp})
	if err != nil {
		return nil, err
	}
	if err := checkStrength(e.Config); err != nil {
		return nil, err
	}
	a := &userAddPlan{old: cfg, edit: e}
	if a.secret, err = provision.GenerateSecret(f.secretSize); err != nil {
		return nil, err
	}
	u, _ := e.Config.User(name)
	acct := provision.Account{ServerID: e.Config.ServerID, User: name, Host: host, Secret: a.secret,
		Params: e.Config.Params, Open: u.Open, BindSource: u.BindSource, Knock: u.Knock, Auth: u.Auth, PrivateKey: en.private}
	if a.uri, err = acct.URI(); err != nil {
		return nil, err
	}
	if f.qrPNG != "" {
		if a.png, err = qr.PNG(a.uri, 512); err != nil {
			return nil, fmt.Errorf("--qr-png: %w", err)
		}
	}
	return a, nil
}

// unguarded returns the services of open that no user of cfg opens:
// the ones otpknock does not guard yet.
func unguarded(cfg *config.Config, open []derive.Knock) []derive.Knock {
	guarded := map[derive.Knock]bool{}
	for _, u := range cfg.Users {
		for _, k := range u.Open {
			guarded[k] = true
		}
	}
	var out []derive.Knock
	for _, k := range open {
		if !guarded[k] {
			out = append(out, k)
		}
	}
	return out
}

// knockHost returns the host a user knocks: --host, else the config's.
// A bracketed IPv6 address loses its brackets; a port is refused, the
// knock has its own.
func knockHost(flag, configured, path string) (string, error) {
	if flag == "" {
		if configured == "" {
			return "", fmt.Errorf("no host to knock: set host in %s or pass --host", path)
		}
		return configured, nil
	}
	if inner, ok := strings.CutPrefix(flag, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if a, err := netip.ParseAddr(inner); ok && err == nil && a.Is6() {
			return inner, nil
		}
		return "", fmt.Errorf("--host: %q is not a bracketed IPv6 address", flag)
	}
	if strings.Contains(flag, ":") {
		if a, err := netip.ParseAddr(flag); err == nil && a.Is6() {
			return flag, nil
		}
		return "", fmt.Errorf("--host: %q: give a host name or address without a port (the knock chooses its ports)", flag)
	}
	if !naming.Host(flag) {
		return "", fmt.Errorf("--host: %q is not a host name or address", flag)
	}
	return flag, nil
}

// uniqueServices parses --open's services and drops repeats, keeping the
// first of each.
func uniqueServices(open []string) ([]string, error) {
	var out []string
	seen := map[derive.Knock]bool{}
	for i, o := range open {
		k, err := derive.ParseService(o)
		if err != nil {
			return nil, fmt.Errorf("--open: open[%d]: %w", i, err)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k.String())
		}
	}
	return out, nil
}

// checkOutsideRange refuses a service inside the knock range that is not
// excluded (knocks must never land on a service) and says how to go on
// without changing the knocks of users already provisioned: the range
// and exclude are part of every user's derivation.
func checkOutsideRange(cfg *config.Config, open []string) error {
	p := cfg.Params
	for _, o := range open {
		k, _ := derive.ParseService(o)
		if k.Port < p.PortMin || k.Port > p.PortMax || slices.Contains(p.Exclude, k.Port) {
			continue
		}
		r := fmt.Sprintf("%d-%d", p.PortMin, p.PortMax)
		if len(cfg.Users) == 0 {
			return fmt.Errorf("--open: %s lies inside knock_range %s, where knocks land: no user is provisioned yet, so add %d to exclude in %s (nobody's knocks change) and run this again",
				o, r, k.Port, cfg.Path)
		}
		return fmt.Errorf("--open: %s lies inside knock_range %s, where knocks land: run the service on a port outside %s (the users keep their knocks), or add %d to exclude in %s and provision the %s again (otpknockd user qr NAME)",
			o, r, r, k.Port, cfg.Path, count(float64(len(cfg.Users)), "user"))
	}
	return nil
}

// checkOutFile checks that a file can be created at path: its directory
// exists, and the path is no directory.
func checkOutFile(flag, path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s: %s is a directory", flag, path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: directory %s does not exist", flag, dir)
	case err != nil:
		return fmt.Errorf("%s: %w", flag, err)
	case !st.IsDir():
		return fmt.Errorf("%s: %s is not a directory", flag, dir)
	}
	return nil
}

func printUser(env *Env, cfg *config.Config, u config.User, uri string, f userAddFlags) {
	w := env.Stdout
	fmt.Fprintf(w, "Added user %s to %s: opens %s, from %s%s, %s knock.\n", u.Name, cfg.Path, cli.KnockList(u.Open), fromList(u), bindNote(u.BindSource), u.Knock)
	if note := keyNote(cfg, u); note != "" {
		fmt.Fprint(w, note)
	} else {
		fmt.Fprintf(w, "Secret: %s (mode 0600, %d bits).\n", cfg.SecretPath(u.Name), 8*f.secretSize)
	}
	printURI(env, uriHeader(u, f.key.generate), uri, f.qrPNG, f.noQR)
}

// printURI prints where the QR code PNG went, the provisioning URI under
// its header, its QR code unless noQR, and how the client imports it.
// The QR code is drawn on a terminal that allows colors (qr.Output);
// elsewhere one line says how to get the PNG, unless --qr-png wrote it
// already.
func printURI(env *Env, header, uri, qrPNG string, noQR bool) {
	w := env.Stdout
	if qrPNG != "" {
		fmt.Fprintf(w, "QR code: %s (mode 0600).\n", qrPNG)
	}
	fmt.Fprintf(w, "\n%s\n%s\n", header, uri)
	o := env.qrOutput()
	colors := o.Refusal(qr.TerminalQR{}) == "" // a terminal with colors, whatever its width
	if !noQR && (colors || qrPNG == "") {
		fmt.Fprintln(w)
		qr.WriteQR(w, uri, o)
	}
	fmt.Fprintf(w, "\nOn the client: otpknock import -   (paste the URI), or otpknock import FILE.png\n")
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
