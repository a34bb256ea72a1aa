package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Unavailable is what a member does with a knock while the store is
// unreachable.
type Unavailable int

const (
	// Local grants alone: as a lone server would, without pool fan-out
	// or pool-wide replay refusal (the default).
	Local Unavailable = iota
	// Refuse refuses every knock until the store is back (fail closed).
	Refuse
)

// String returns local or refuse.
func (u Unavailable) String() string {
	if u == Refuse {
		return "refuse"
	}
	return "local"
}

// DefaultUsedTTL is how long a used (user, step) is remembered pool-wide:
// longer than any window a member accepts (skew 10 at one hour per step
// is 21 hours; the default window is three 30-second steps).
const DefaultUsedTTL = 24 * time.Hour

// Options are how to reach the fleet's NATS servers.
type Options struct {
	URLs      []string // nats:// or tls:// URLs of the cluster's servers
	Fleet     string   // the fleet id
	Name      string   // this connection's name, for NATS monitoring
	CredsFile string   // a .creds file (user JWT and nkey seed), or a user's nkey seed alone
	User      string   // user and password, when not CredsFile
	Password  string
	CAFile    string // the CA that signed the servers' certificates
	CertFile  string // a client certificate, when the servers ask for one
	KeyFile   string
	// Insecure allows a plain connection without credentials: tests only.
	Insecure bool
	Replicas int           // JetStream replicas of the buckets (1..5); 0 is 1
	UsedTTL  time.Duration // 0 is DefaultUsedTTL
	// Once fails Dial when no server answers now, instead of retrying
	// in the background: for commands, not members.
	Once bool
	// Manage creates the fleet's buckets when they are absent and sets
	// their replicas and expiry (otpknockd fleet init, with the
	// administrator's NATS credentials). Without it the buckets are only
	// bound, which needs no stream create or update permission, and a
	// missing bucket is [ErrNoBuckets].
	Manage bool
	// Log, when set, gets one line for each kind of failed connection
	// attempt (TLS, the credentials, the rest) until one succeeds (nil:
	// no log).
	Log *slog.Logger
}

// Check refuses options that would join a fleet without TLS and
// credentials, unless Insecure is set; its errors name the field as the
// config's fleet section does.
func (o Options) Check() error {
	switch {
	case len(o.URLs) == 0:
		return errors.New("fleet.servers: list the NATS servers, e.g. [tls://nats1.example.org:4222]")
	case o.Fleet == "":
		return errors.New("fleet.id: must be set")
	case o.Insecure:
		return nil
	case o.CAFile == "":
		return errors.New("fleet.tls_ca: a member joins over TLS only (set insecure: true for tests)")
	case o.CredsFile == "" && o.User == "":
		return errors.New("fleet.credentials: give a NATS credentials file or user and password (set insecure: true for tests)")
	case o.CredsFile != "" && o.User != "":
		return errors.New("fleet.credentials: give a credentials file or user and password, not both")
	case o.Replicas < 0 || o.Replicas > 5:
		return errors.New("fleet.replicas: must be from 1 to 5")
	}
	return nil
}

// connReport returns the options that log why connecting fails: once
// for TLS, once for the credentials, once for anything else, until the
// connection is up (the messages name ports that change with each
// attempt). A wrong CA or a missing client certificate thus shows in
// the log as one line naming TLS while the connection retries in the
// background.
func (o Options) connReport() []nats.Option {
	if o.Log == nil {
		return nil
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	up := func(*nats.Conn) {
		mu.Lock()
		clear(seen)
		mu.Unlock()
	}
	failed := func(_ *nats.Conn, err error) {
		if err == nil || errors.Is(err, nats.ErrNoServers) {
			return // the first attempt's summary: the reasons follow
		}
		kind := "other"
		switch {
		case tlsFailure(err):
			kind = "tls"
		case errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked):
			kind = "credentials"
		}
		mu.Lock()
		first := !seen[kind]
		seen[kind] = true
		mu.Unlock()
		switch {
		case !first:
		case kind == "tls":
			o.Log.Error("fleet: cannot connect to NATS over TLS: check fleet.tls_ca, tls_cert and tls_key",
				"tls_ca", o.CAFile, "tls_cert", o.CertFile, "err", err)
		case kind == "credentials":
			o.Log.Error("fleet: NATS refuses the credentials: check fleet.credentials, or user and password_file", "err", err)
		default:
			o.Log.Error("fleet: cannot connect to NATS", "err", err)
		}
	}
	return []nats.Option{nats.ReconnectErrHandler(failed), nats.ConnectHandler(up), nats.ReconnectHandler(up)}
}

// tlsFailure reports whether err is a failed TLS handshake: a server
// certificate the CA does not sign or that names another host, or a
// server's alert or its closing the connection after the handshake (a
// client certificate it wants or refuses).
func tlsFailure(err error) bool {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var host x509.HostnameError
	var alert tls.AlertError
	return errors.Is(err, nats.ErrTLS) || errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &host) ||
		errors.As(err, &alert) || strings.Contains(err.Error(), "tls: ")
}
