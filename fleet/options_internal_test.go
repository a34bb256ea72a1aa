package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"syscall"
	"testing"

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
