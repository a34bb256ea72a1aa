package client

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/netnstest"
	"github.com/otpknock/otpknock/publicaddr"
	"github.com/otpknock/otpknock/publicaddr/publicaddrtest"
	"github.com/otpknock/otpknock/sender"
	"github.com/vishvananda/netns"
)

// inNS runs fn on a thread inside namespace ns, so the sockets it opens
// belong there.
func inNS(ns string, fn func()) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("cannot return to the test's namespace: %v", err))
		}
	}()
	fn()
	return nil
}

// nsExchanger is publicaddr.UDP inside a namespace.
type nsExchanger struct{ ns string }

func (n nsExchanger) Exchange(ctx context.Context, local netip.Addr, dst netip.AddrPort, req []byte) (out []byte, err error) {
	if nerr := inNS(n.ns, func() { out, err = publicaddr.UDP{}.Exchange(ctx, local, dst, req) }); nerr != nil {
		return nil, nerr
	}
	return out, err
}

// nsWriter is the kernel sender inside a namespace.
type nsWriter struct {
	ns string
	k  sender.Kernel
}

func (w *nsWriter) Write(ctx context.Context, dst netip.Addr, kn derive.Knock) (how string, err error) {
	if nerr := inNS(w.ns, func() { how, err = w.k.Write(ctx, dst, kn) }); nerr != nil {
		return "", nerr
	}
	return how, err
}

func (w *nsWriter) WritePayload(ctx context.Context, dst netip.Addr, kn derive.Knock, payload []byte) (how string, err error) {
	if nerr := inNS(w.ns, func() { how, err = w.k.WritePayload(ctx, dst, kn, payload) }); nerr != nil {
		return "", nerr
	}
	return how, err
}

// TestPacketKnockBehindNAT knocks from behind the lab's masquerading NAT
// (inside 198.19.0.0/24, counted as translated here) with discovery
// against a STUN responder beside the server: the packet the server
// receives comes from the NAT's outside address, and its claim names
// exactly that address, with Source clear (section 11.6 check 6 passes
// without Source). With the responder unreachable the knock falls back
// to Source.
func TestPacketKnockBehindNAT(t *testing.T) {
	netnstest.Require(t, "iptables")
	lab := netnstest.NewLab(t)
	start := derive.StepStart(60000000, 30*time.Second)
	p := testProfile(lab.ServerV4.String(), derive.ModePacket)
	p.Params.Protocols = derive.Protocols(derive.UDP)
	pd, err := derive.NewPacket(p.Secret, p.ServerID, p.Params)
	if err != nil {
		t.Fatal(err)
	}
	el, err := pd.Knock(60000000)
	if err != nil {
		t.Fatal(err)
	}
	var stunPC, knockPC net.PacketConn
	lab.Do(t, lab.Server, func() {
		if stunPC, err = net.ListenPacket("udp4", "0.0.0.0:3478"); err != nil {
			t.Fatal(err)
		}
		if knockPC, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", el.Port)); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { knockPC.Close() })
	stun := publicaddrtest.Serve(t, stunPC)
	inside := netip.MustParsePrefix("198.19.0.0/24")
	tests := []struct {
		name   string
		server string // the STUN server
		want   string
	}{
		{name: "discovered", server: netip.AddrPortFrom(lab.ServerV4, 3478).String(),
			want: fmt.Sprintf("from %v: claim %v; the packet's source not claimed", lab.NatV4, lab.NatV4)},
		{name: "STUN unreachable: Source", server: netip.AddrPortFrom(lab.ServerV4, 3479).String(),
			want: fmt.Sprintf("from %v: claim no address; the packet's source too (NAT)", lab.NatV4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{Clock: clocktest.NewFake(start.Add(10 * time.Second)), Writer: &nsWriter{ns: lab.NatA, k: sender.Kernel{NoRaw: true}},
				Global: func(a netip.Addr) bool { return !inside.Contains(a) && Global(a) },
				Route: func(d netip.Addr) (src netip.Addr, err error) {
					if nerr := inNS(lab.NatA, func() { src, err = sender.RouteSource(d) }); nerr != nil {
						return netip.Addr{}, nerr
					}
					return src, err
				},
				Finder: &publicaddr.Finder{Servers: []string{tt.server}, Exchanger: nsExchanger{lab.NatA}, Timeout: 100 * time.Millisecond,
					Accept: func(a netip.Addr) bool { return netip.MustParsePrefix("198.18.0.0/15").Contains(a) }}}
			pl, err := c.Plan(context.Background(), p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Knock(context.Background(), pl, 0); err != nil {
				t.Fatal(err)
			}
			knockPC.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 1500)
			n, from, err := knockPC.ReadFrom(buf)
			if err != nil {
				t.Fatalf("the server got no knock: %v (notes %q, warnings %q)", err, pl.Notes, pl.Warnings)
			}
			cl, err := pd.Open(buf[:n], 60000000, el, netip.Addr{})
			if err != nil {
				t.Fatalf("the knock does not open: %v", err)
			}
			src := from.(*net.UDPAddr).AddrPort().Addr().Unmap()
			if got := fmt.Sprintf("from %v: claim %s", src, ClaimString(cl)); got != tt.want {
				t.Errorf("got  %s\nwant %s\nSTUN requests:\n%s", got, tt.want, stun)
			}
		})
	}
}
