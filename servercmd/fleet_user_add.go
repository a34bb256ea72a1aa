package servercmd

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/internal/naming"
	"github.com/otpknock/otpknock/provision"
	"github.com/spf13/cobra"
)

// fleetUserAddFlags are user add's flags, for a fleet user.
type fleetUserAddFlags struct {
	open, from []string
	bind, noQR bool
	host       string
	knock      string
	knockSet   bool   // --knock was given
	prefix     string // --grant-prefix V4,V6
	key        keyFlags
	stdin      io.Reader // --key-file -
}

// fleetUserAddPlan checks the inputs of user add in a fleet; it writes nothing.
func fleetUserAddPlan(name string, a fleetUserAddFlags) (fleet.UserKey, derive.Mode, error) {
	k := fleet.UserKey{User: name, Bind: a.bind}
	if !naming.User(name) {
		return k, 0, fmt.Errorf("NAME: %q must be 1-32 of a-z 0-9 . _ - starting with a letter or digit", name)
	}
	mode, err := derive.ParseMode(a.knock)
	if err != nil {
		return k, 0, fmt.Errorf("--knock: %w", err)
	}
	if mode == derive.ModePacket {
		k.Knock = mode.String()
	}
	open, err := uniqueServices(a.open)
	if err != nil {
		return k, 0, err
	}
	k.Open = open
	for _, s := range a.from {
		p, err := netip.ParsePrefix(s)
		if err != nil || p != p.Masked() {
			return k, 0, fmt.Errorf("--from: %q is not a CIDR without host bits, e.g. 198.18.0.0/15", s)
		}
		k.From = append(k.From, p)
	}
	if a.prefix != "" {
		gp, err := config.ParseGrantPrefix(a.prefix)
		if err != nil {
			return k, 0, fmt.Errorf("--grant-prefix: %w", err)
		}
		if !gp.IsZero() {
			k.GrantPrefix = gp.String()
		}
	}
	return k, mode, nil
}

// fleetUserAdd enrolls name once for every member of the fleet and
// prints the fleet's URI.
func fleetUserAdd(cmd *cobra.Command, env *Env, f *fleetFlags, name string, a fleetUserAddFlags) error {
	k, mode, err := fleetUserAddPlan(name, a)
	if err != nil {
		return cli.Usage(err)
	}
	adm, cfg, closeStore, err := env.admin(f)
	if err != nil {
		return err
	}
	defer closeStore()
	host := a.host
	if host == "" {
		host = cfg.Host
	}
	e, err := fleetAuth(&k, &mode, cfg.Fleet.ID, a)
	if err != nil {
		return cli.Usage(err)
	}
	secret, err := provision.GenerateSecret(32) // an ed25519 user's: the locator's enrollment secret
	if err != nil {
		return err
	}
	if err := checkOutsideRange(cfg, k.Open); err != nil {
		return cli.Usage(err)
	}
	var open []derive.Knock
	for _, s := range k.Open {
		svc, _ := derive.ParseService(s) // checked by uniqueServices
		open = append(open, svc)
	}
	acct := provision.Account{Fleet: cfg.Fleet.ID, User: name, Host: host, Secret: secret, Params: cfg.Params,
		Open: open, BindSource: k.Bind, Knock: mode, Auth: e.auth, PrivateKey: e.private}
	uri, err := acct.URI()
	if err != nil {
		return err
	}
	if err := fleet.SaveEnrollment(f.enrollments, fleet.Enrollment{UserKey: k, Secret: secret}); err != nil {
		return cli.Usage(fmt.Errorf("--enrollments: %w", err))
	}
	members, err := adm.AddUser(cmd.Context(), secret, k)
	if err != nil {
		_ = fleet.RemoveEnrollment(f.enrollments, name) // nothing of a failed add stays behind
		return fmt.Errorf("fleet %s: %w", cfg.Fleet.ID, err)
	}
	fmt.Fprintf(env.Stdout, "Enrolled %s in fleet %s: opens %s%s; sealed for %s.\n", name, cfg.Fleet.ID,
		strings.Join(k.Open, ","), fleetPrefixNote(k.GrantPrefix), strings.Join(members, ", "))
	fmt.Fprintf(env.Stdout, "Enrollment secret: %s (mode 0600; needed to give the user to members added later).\n",
		fleet.EnrollmentPath(f.enrollments, name))
	header := "Provisioning URI for the whole fleet (it holds the enrollment secret; hand it over privately):"
	switch {
	case e.private != nil:
		header = "Provisioning URI for the whole fleet (it holds the user's private key, which no host kept: hand it over privately, once):"
	case e.auth == derive.AuthEd25519:
		header = "Provisioning URI for the whole fleet (no credential that can knock: its locator finds the port, the client's own key signs):"
	}
	if e.auth == derive.AuthEd25519 {
		fmt.Fprintf(env.Stdout, "Public key: %s, the same on every member; each member holds a locator of its own, which cannot open.\n",
			derive.Fingerprint(mustKey(k.PublicKey)))
	}
	printURI(env, header, uri, "", a.noQR)
	return nil
}

// fleetPrefixNote says what a grant of a user with grant_prefix gp
// opens: ", grants open /24,/64 around the address"; "" for none.
func fleetPrefixNote(gp string) string {
	if gp == "" {
		return ""
	}
	return ", grants open " + fleetPrefixText(gp) + " around the address"
}

// fleetAuth resolves the key flags of a fleet user add into k and mode:
// an ed25519 user knocks with packets, and its records carry its public
// key line; the enrollment secret is then its locator's (spec section
// 14.5).
func fleetAuth(k *fleet.UserKey, mode *derive.Mode, fleetID string, a fleetUserAddFlags) (enrolment, error) {
	e, err := a.key.resolve(k.User, fleetID, a.stdin)
	if err != nil || e.auth != derive.AuthEd25519 {
		return e, err
	}
	if a.knockSet && *mode != derive.ModePacket {
		return e, fmt.Errorf("--knock: %s: an ed25519 user knocks with packets", *mode)
	}
	*mode = derive.ModePacket
	k.Knock, k.Auth, k.PublicKey = derive.ModePacket.String(), derive.AuthEd25519.String(), e.line
	return e, nil
}

// mustKey is the public key of a key line resolve checked.
func mustKey(line string) []byte {
	pub, _, _ := derive.ParseKeyLine(line)
	return pub
}
