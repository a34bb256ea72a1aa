package publicaddr

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/pion/stun/v3"
)

// fakeServer is how one fake STUN server behaves.
type fakeServer struct {
	mapped netip.Addr // the address it reports
	drop   int        // requests ignored before it answers; <0: all
	reply  string     // "": success; "error", "wrong id", "garbage", "no xor"
}

// fakeNet is a stateful Exchanger: servers by address, and the log of
// every request, which String renders sorted (requests run in parallel).
type fakeNet struct {
	mu      sync.Mutex
	servers map[netip.AddrPort]*fakeServer
	log     []string
}

func (n *fakeNet) Exchange(ctx context.Context, local netip.Addr, dst netip.AddrPort, req []byte) ([]byte, error) {
	m := &stun.Message{Raw: append([]byte(nil), req...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingRequest {
		return nil, fmt.Errorf("fake: not a binding request: %v", err)
	}
	n.mu.Lock()
	s, ok := n.servers[dst]
	what := "answered"
	switch {
	case !ok:
		what = "refused"
	case s.drop != 0:
		s.drop--
		what = "dropped"
	case s.reply != "":
		what = s.reply
	}
	n.log = append(n.log, fmt.Sprintf("%v -> %v %s", local, dst, what))
	n.mu.Unlock()
	switch what {
	case "refused":
		return nil, errors.New("connection refused")
	case "dropped":
		<-ctx.Done()
		return nil, fmt.Errorf("no answer: %w", ctx.Err())
	case "garbage":
		return []byte("not stun"), nil
	}
	id, typ := m.TransactionID, stun.BindingSuccess
	var attrs []stun.Setter
	switch what {
	case "wrong id":
		id = stun.NewTransactionID()
	case "error":
		typ = stun.BindingError
		attrs = append(attrs, stun.CodeServerError)
	case "answered":
		attrs = append(attrs, &stun.XORMappedAddress{IP: s.mapped.AsSlice(), Port: 40000})
	}
	resp, err := stun.Build(append([]stun.Setter{stun.NewTransactionIDSetter(id), typ}, append(attrs, stun.Fingerprint)...)...)
	if err != nil {
		return nil, err
	}
	return resp.Raw, nil
}

func (n *fakeNet) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := slices.Clone(n.log)
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// fakeResolver answers from a map.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range r[host] {
		if network == "ip" || (network == "ip4") == a.Is4() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}
