package publicaddr

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/publicaddr/publicaddrtest"
)

func loopback(a netip.Addr) bool { return a.IsLoopback() }

// listenLoopback starts a responder on 127.0.0.1 and returns its address.
func listenLoopback(t testing.TB) string {
	t.Helper()
	return publicaddrtest.Listen(t, "udp4", "127.0.0.1:0").Addr()
}

// TestUDPAgainstResponder runs the real sockets against an in-process
// STUN responder on 127.0.0.1.
func TestUDPAgainstResponder(t *testing.T) {
	srv := listenLoopback(t)
	closed, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.LocalAddr().String()
	closed.Close() // nothing listens there any more: refused at once
	local := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name    string
		servers []string
		accept  func(netip.Addr) bool
		want    netip.Addr
		err     string
	}{
		{name: "mapped address", servers: []string{srv}, accept: loopback, want: local},
		{name: "the answering server wins over a closed port", servers: []string{closedAddr, srv}, accept: loopback, want: local},
		{name: "loopback is not global", servers: []string{srv}, err: "mapped address 127.0.0.1 is not a global address"},
		{name: "closed port", servers: []string{closedAddr}, accept: loopback, err: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Finder{Servers: tt.servers, Accept: tt.accept}
			r := f.Find(context.Background(), local)[0]
			if tt.err != "" {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", r.Err, tt.err)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if r.Public != tt.want || r.Local != local || r.Server != srv {
				t.Errorf("got %+v, want %v from %s", r.Address, tt.want, srv)
			}
		})
	}
}
