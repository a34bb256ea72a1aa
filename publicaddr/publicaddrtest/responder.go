package publicaddrtest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/pion/stun/v3"
)

// Responder answers each binding request with the XOR-MAPPED-ADDRESS
// of the request's source, as a STUN server on the far side of a NAT
// sees it. It ignores anything else.
type Responder struct {
	conn net.PacketConn
	mu   sync.Mutex
	from []string
}

// Serve answers on pc until t ends (t.Cleanup closes pc).
func Serve(t testing.TB, pc net.PacketConn) *Responder {
	t.Helper()
	r := &Responder{conn: pc}
	t.Cleanup(func() { pc.Close() })
	go r.serve()
	return r
}

// Listen opens a UDP socket on addr (e.g. "127.0.0.1:0") and serves on
// it.
func Listen(t testing.TB, network, addr string) *Responder {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, pc)
}

// Addr returns the address the responder listens on, as HOST:PORT.
func (r *Responder) Addr() string { return r.conn.LocalAddr().String() }

// Requests returns how many binding requests it answered.
func (r *Responder) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.from)
}

// String lists the requests answered, one "binding request from
// ADDR:PORT" line each.
func (r *Responder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines := make([]string, len(r.from))
	for i, f := range r.from {
		lines[i] = "binding request from " + f
	}
	return strings.Join(lines, "\n")
}

func (r *Responder) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if resp, err := answer(buf[:n], from); err == nil {
			r.mu.Lock()
			r.from = append(r.from, from.String())
			r.mu.Unlock()
			r.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the binding success response to req from from.
func answer(req []byte, from net.Addr) ([]byte, error) {
	m := &stun.Message{Raw: append([]byte(nil), req...)}
	if err := m.Decode(); err != nil {
		return nil, err
	}
	if m.Type != stun.BindingRequest {
		return nil, fmt.Errorf("%v, not a binding request", m.Type)
	}
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("%v is not a UDP address", from)
	}
	resp, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}, stun.Fingerprint)
	if err != nil {
		return nil, err
	}
	return resp.Raw, nil
}
