package provision

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Version is the value of the URI's otpknock field this package writes;
// it is the derivation spec's version.
const Version = 1

// Issuer is the otpauth issuer of every otpknock URI.
const Issuer = "otpknock"

// MaxFileBytes is the most a provisioning file holds: a URI is some
// hundred bytes, its QR code PNG (package qr) some KiB.
const MaxFileBytes = 8 << 20

// Account is what a client needs to knock for one user of one server.
type Account struct {
	ServerID   string
	User       string
	Host       string // the address to knock; may be empty in a URI
	Secret     []byte
	Params     derive.Params
	Open       []derive.Knock // the services the knock opens
	BindSource bool
	Knock      derive.Mode // how the user knocks: the URI's knock field
	// Auth is a packet user's: hmac, or ed25519, whose Secret is then
	// the locator secret and whose knocks PrivateKey signs. PrivateKey
	// is nil unless the server made the pair (the --generate flow) or
	// the client's own key was attached.
	Auth       derive.Auth
	PrivateKey ed25519.PrivateKey
	// Fleet is the fleet id of a fleet account (spec section 14): Secret
	// is then the enrollment secret, ServerID is empty, and the key and
	// server id of each knock come from the name knocked ([Account.KeyFor]).
	Fleet string
}

// uriFields are the fields a URI may hold at most once (spec section
// 9.2, rule 3).
var uriFields = [...]string{"otpknock", "secret", "server", "user", "host", "period", "knocks",
	"range", "protocols", "exclude", "open", "bind", "knock", "auth", "locator", "key", "fleet"}

// URI returns the account's otpauth:// provisioning URI.
func (a Account) URI() (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      Issuer,
		AccountName: a.User + "@" + a.scope(),
		Period:      uint(a.Params.Period / time.Second),
		Secret:      a.Secret,
		Algorithm:   otp.AlgorithmSHA256,
	})
	if err != nil {
		return "", fmt.Errorf("building URI: %w", err)
	}
	u, err := url.Parse(key.URL())
	if err != nil {
		return "", fmt.Errorf("building URI: %w", err)
	}
	f := derive.FieldsOf(a.Params)
	q := u.Query()
	q.Set("otpknock", strconv.Itoa(Version))
	if a.Fleet != "" {
		q.Set("fleet", a.Fleet) // and no server: older readers refuse the URI (spec section 14.3)
	} else {
		q.Set("server", a.ServerID)
	}
	q.Set("user", a.User)
	q.Set("host", a.Host)
	q.Set("knocks", strconv.Itoa(f.Knocks))
	q.Set("range", f.KnockRange)
	q.Set("protocols", strings.Join(f.Protocols, ","))
	q.Set("exclude", joinInts(f.Exclude))
	q.Set("open", derive.Knocks(a.Open).String())
	q.Set("bind", map[bool]string{false: "0", true: "2"}[a.BindSource])
	if a.Knock == derive.ModePacket {
		q.Set("knock", a.Knock.String()) // absent for a sequence, which every reader knows
	}
	setAuth(q, a)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func joinInts(xs []uint16) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// ParseURI parses and validates a provisioning URI. Errors name the field.
func ParseURI(s string) (Account, error) {
	a, err := parseURI(strings.TrimSpace(s))
	if err != nil {
		return Account{}, fmt.Errorf("provisioning URI: %w", err)
	}
	return a, nil
}

func parseURI(s string) (Account, error) {
	q, err := readQuery(s)
	if err != nil {
		return Account{}, err
	}
	if err := checkVersion(q.Get("otpknock")); err != nil {
		return Account{}, err
	}
	if err := checkSpaces(q); err != nil {
		return Account{}, err
	}
	a := Account{ServerID: q.Get("server"), User: q.Get("user"), Host: q.Get("host"), Fleet: q.Get("fleet")}
	if err := checkScope(a); err != nil {
		return Account{}, err
	}
	if err := checkNames(a); err != nil {
		return Account{}, err
	}
	if a.Knock, err = parseKnock(q.Get("knock")); err != nil {
		return Account{}, err
	}
	if a.Auth, a.Secret, a.PrivateKey, err = parseAuth(q, a.Knock); err != nil {
		return Account{}, err
	}
	if a.Params, err = parseParams(q); err != nil {
		return Account{}, err
	}
	if a.Open, err = parseOpen(q.Get("open")); err != nil {
		return Account{}, err
	}
	if a.BindSource, err = parseBind(q.Get("bind")); err != nil {
		return Account{}, err
	}
	if err := checkDerivable(a); err != nil {
		return Account{}, derive.Rename(err, param)
	}
	return a, nil
}

// readQuery checks that s is an otpauth://totp/ URI and returns its
// decoded query. A malformed pair (a ';', a bad '%' escape) is an error,
// never skipped: dropping a bad exclude would derive without it. So is a
// field of uriFields given twice.
func readQuery(s string) (url.Values, error) {
	if !strings.HasPrefix(s, "otpauth://") {
		return nil, errors.New("must start with otpauth://")
	}
	if !strings.HasPrefix(s, "otpauth://totp/") {
		typ, _, _ := strings.Cut(strings.TrimPrefix(s, "otpauth://"), "/")
		return nil, fmt.Errorf("type %q: want otpauth://totp/", typ)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not an otpauth URI: %w", err)
	}
	if err := checkRawQuery(u.RawQuery); err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query: %w", err)
	}
	for _, name := range uriFields {
		if n := len(q[name]); n > 1 {
			return nil, fmt.Errorf("%s: given %d times, a URI holds it once", name, n)
		}
	}
	return q, nil
}

// parseKnock reads the knock field: absent or "sequence", or "packet"
// (any case).
func parseKnock(s string) (derive.Mode, error) {
	m, err := derive.ParseMode(s)
	if err != nil {
		return 0, fmt.Errorf("knock: %w", err)
	}
	return m, nil
}

// checkDerivable checks what derive checks when it knocks, so that a URI
// a client could not knock with is refused on import: the server id's
// length and, for packet knocks, a protocol a packet can travel over.
func checkDerivable(a Account) error {
	if a.Knock == derive.ModePacket && a.Auth == derive.AuthEd25519 {
		_, err := derive.NewSigPacket(a.Secret, nil, a.scope(), a.Params)
		return err
	}
	if a.Knock == derive.ModePacket {
		_, err := derive.NewPacket(a.Secret, a.scope(), a.Params)
		return err
	}
	_, err := derive.New(a.Secret, a.scope(), a.Params)
	return err
}

func checkVersion(v string) error {
	if v == "" {
		return errors.New("no otpknock field: this is a plain authenticator URI without knock parameters; ask the server's administrator for an otpknock URI")
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < 1:
		return fmt.Errorf("otpknock: %q is not a version number", v)
	case n > Version:
		return fmt.Errorf("otpknock: version %d is newer than this client's %d: upgrade otpknock", n, Version)
	}
	return nil
}

func parseParams(q url.Values) (derive.Params, error) {
	period := q.Get("period")
	if period == "" {
		period = "30" // the key URI format's default
	}
	secs, err := strconv.ParseUint(period, 10, 32)
	if err != nil {
		return derive.Params{}, fmt.Errorf("period: %q is not a number of seconds", period)
	}
	knocks, err := strconv.Atoi(q.Get("knocks"))
	if err != nil {
		return derive.Params{}, fmt.Errorf("knocks: %q is not a number", q.Get("knocks"))
	}
	f := derive.Fields{Step: time.Duration(secs) * time.Second, Knocks: knocks, KnockRange: q.Get("range")}
	if p := q.Get("protocols"); p != "" {
		f.Protocols = strings.Split(p, ",")
	}
	for _, e := range splitNonEmpty(q.Get("exclude")) {
		n, err := strconv.ParseUint(e, 10, 16)
		if err != nil || n == 0 {
			return derive.Params{}, fmt.Errorf("exclude: %q is not a port", e)
		}
		f.Exclude = append(f.Exclude, uint16(n))
	}
	p, err := f.Params()
	if err != nil {
		return derive.Params{}, derive.Rename(err, param)
	}
	return p, nil
}

// param names derive's fields as the URI's query parameters do.
func param(f derive.Field) string {
	switch f {
	case derive.FieldServerID:
		return "server"
	case derive.FieldPeriod:
		return "period"
	case derive.FieldRange:
		return "range"
	case derive.FieldStrength:
		return "knocks, protocols, range"
	}
	return f.String() // secret, knocks, protocols, exclude
}

func parseOpen(s string) ([]derive.Knock, error) {
	var out []derive.Knock
	for _, x := range splitNonEmpty(s) {
		k, err := derive.ParseService(x)
		if err != nil {
			return nil, fmt.Errorf("open: %w", err)
		}
		if slices.Contains(out, k) {
			return nil, fmt.Errorf("open: %v listed twice", k)
		}
		out = append(out, k)
	}
	return out, nil
}

func splitNonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// GenerateSecret returns a new secret of n bytes: pquerna/otp's TOTP key
// generation reading crypto/rand.
func GenerateSecret(n int) ([]byte, error) {
	if n < derive.MinSecret {
		return nil, fmt.Errorf("secret length %d bytes: need at least %d", n, derive.MinSecret)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: "new", SecretSize: uint(n), Rand: rand.Reader})
	if err != nil {
		return nil, fmt.Errorf("generating secret: %w", err)
	}
	return derive.DecodeSecret(key.Secret())
}
