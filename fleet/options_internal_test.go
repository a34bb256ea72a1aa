package fleet

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

func TestTLSFailure(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"unknown CA", fmt.Errorf("nats: tls error: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{"another host's certificate", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "nats1"}, true},
		{"client certificate wanted", errors.New("remote error: tls: certificate required"), true},
		{"closed after the handshake", fmt.Errorf("%w: connection closed by remote after TLS handshake: %w", nats.ErrTLS, syscall.EPIPE), true},
		{"refused connection", fmt.Errorf("dial tcp 198.18.3.100:4222: %w", syscall.ECONNREFUSED), false},
		{"wrong password", nats.ErrAuthorization, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := tlsFailure(c.err); got != c.want {
				t.Errorf("tlsFailure(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// TestConnReport: while connecting keeps failing, one line for TLS, one
// for the credentials and one for anything else, however the messages
// vary; after a connection, the next failures are logged again.
func TestConnReport(t *testing.T) {
	var buf bytes.Buffer
	o := Options{CAFile: "/etc/otpknock/nats-ca.pem", Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		}}))}
	var no nats.Options
	for _, opt := range o.connReport() {
		if err := opt(&no); err != nil {
			t.Fatal(err)
		}
	}
	closed := func(port int) error {
		return fmt.Errorf("%w: connection closed by remote after TLS handshake: write tcp 198.18.3.254:%d->198.18.3.101:4222: %w", nats.ErrTLS, port, syscall.EPIPE)
	}
	for _, err := range []error{nats.ErrNoServers, closed(40001), closed(40002), fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED),
		nats.ErrAuthorization, nats.ErrAuthorization, fmt.Errorf("dial tcp: %w", syscall.EHOSTUNREACH)} {
		no.ReconnectErrCB(nil, err)
	}
	no.ReconnectedCB(nil)
	no.ReconnectErrCB(nil, closed(40003))
	want := []string{
		`msg="fleet: cannot connect to NATS over TLS: check fleet.tls_ca, tls_cert and tls_key" tls_ca=/etc/otpknock/nats-ca.pem tls_cert="" err="nats: tls error: connection closed by remote after TLS handshake: write tcp 198.18.3.254:40001->198.18.3.101:4222: broken pipe"`,
		`msg="fleet: cannot connect to NATS" err="dial tcp: connection refused"`,
		`msg="fleet: NATS refuses the credentials: check fleet.credentials, or user and password_file" err="nats: authorization violation"`,
		`msg="fleet: cannot connect to NATS over TLS: check fleet.tls_ca, tls_cert and tls_key" tls_ca=/etc/otpknock/nats-ca.pem tls_cert="" err="nats: tls error: connection closed by remote after TLS handshake: write tcp 198.18.3.254:40003->198.18.3.101:4222: broken pipe"`,
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(buf.String()), "\n")); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}
