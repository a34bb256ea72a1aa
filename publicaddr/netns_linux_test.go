package publicaddr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/publicaddr/publicaddrtest"
	"github.com/vishvananda/netns"
)

// nsUDP is the real UDP exchanger run on a thread inside a namespace,
// so its sockets belong there.
type nsUDP struct{ ns string }

func (n nsUDP) Exchange(ctx context.Context, local netip.Addr, dst netip.AddrPort, req []byte) ([]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.ns)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return nil, err
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("cannot return to the test's namespace: %v", err))
		}
	}()
	return UDP{}.Exchange(ctx, local, dst, req)
}

// benchmarking accepts the test ranges as public: 198.18.0.0/15 and
// the lab's IPv6 networks under 2001:2::/32.
func benchmarking(a netip.Addr) bool {
	return netip.MustParsePrefix("198.18.0.0/15").Contains(a) || netip.MustParsePrefix("2001:2::/32").Contains(a)
}

// TestFindInNamespaces runs discovery over real sockets between
// namespaces: a STUN responder on the server side; a client that sees
// the Internet directly learns its own veth addresses, both families at
// once, and a client behind a masquerading NAT learns the NAT's outside
// address.
func TestFindInNamespaces(t *testing.T) {
	netnstest.Require(t, "iptables")
	lab := netnstest.NewLab(t)
	var pc4, pc6 net.PacketConn
	lab.Do(t, lab.Server, func() {
		var err error
		if pc4, err = net.ListenPacket("udp4", "0.0.0.0:3478"); err != nil {
			t.Fatal(err)
		}
		if pc6, err = net.ListenPacket("udp6", "[::]:3478"); err != nil {
			t.Fatal(err)
		}
	})
	publicaddrtest.Serve(t, pc4)
	publicaddrtest.Serve(t, pc6)
	servers := []string{netip.AddrPortFrom(lab.ServerV4, 3478).String(), netip.AddrPortFrom(lab.ServerV6, 3478).String()}
	natA := netip.MustParseAddr("198.19.0.2")
	tests := []struct {
		name   string
		ns     string
		locals []netip.Addr
		want   []string
	}{
		{name: "direct, both families", ns: lab.Client, locals: []netip.Addr{lab.ClientV4, lab.ClientV6},
			want: []string{fmt.Sprintf("%v %v %s", lab.ClientV4, lab.ClientV4, servers[0]), fmt.Sprintf("%v %v %s", lab.ClientV6, lab.ClientV6, servers[1])}},
		{name: "behind NAT", ns: lab.NatA, locals: []netip.Addr{natA},
			want: []string{fmt.Sprintf("%v %v %s", natA, lab.NatV4, servers[0])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &Finder{Servers: servers, Exchanger: nsUDP{tt.ns}, Accept: benchmarking}
			var got []string
			for _, r := range f.Find(context.Background(), tt.locals...) {
				got = append(got, show(r))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the benchmarking range is not global", func(t *testing.T) {
		f := &Finder{Servers: servers[:1], Exchanger: nsUDP{lab.NatA}}
		r := f.Find(context.Background(), natA)[0]
		want := fmt.Sprintf("%v error: IPv4 public address: %s: answer from %s: mapped address %v is not a global address", natA, servers[0], servers[0], lab.NatV4)
		if diff := cmp.Diff(want, show(r)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
