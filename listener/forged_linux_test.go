package listener

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestPeerKernel decides by the sender address recvfrom(2) fills in: the
// kernel's port id is 0; any other netlink sender is a process.
func TestPeerKernel(t *testing.T) {
	nl := func(pid uint32) peer {
		return peer{addr: unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Pid: pid}, len: unix.SizeofSockaddrNetlink}
	}
	for _, tc := range []struct {
		name string
		from peer
		want bool
	}{
		{"the kernel: port id 0", nl(0), true},
		{"a process: port id 4242", nl(4242), false},
		{"a process bound to a negative (kernel-chosen) port id", nl(0xfffff001), false},
		{"the kernel, sending to a group", peer{addr: unix.RawSockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}, len: unix.SizeofSockaddrNetlink}, true},
		{"no sender named (a socket pair)", peer{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.from.kernel(); got != tc.want {
				t.Errorf("kernel() = %v, want %v", got, tc.want)
			}
		})
	}
}

// userSocket is a netlink socket of NETLINK_USERSOCK, the protocol any
// process may send on, bound to a port id the kernel picks; it returns
// the descriptor and the port id.
func userSocket(t *testing.T) (int, uint32) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_USERSOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrNetlink).Pid
}

// TestRunRefusesForged sends an NFLOG packet message, the exact bytes
// the kernel sends for a UDP knock, from one netlink socket to the one
// Run reads: it names a process as its sender, so Run refuses it
// unread, counts it, and goes on reading. The same bytes through a
// socket pair (no sender named, TestRunIdle's way) are a knock.
func TestRunRefusesForged(t *testing.T) {
	msg := packetMsg(1, ip4(17, 0, 0, udp(40001)))
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (read int, send func() error)
		want Stats
	}{
		{"another process's netlink socket", func(t *testing.T) (int, func() error) {
			r, pid := userSocket(t)
			w, _ := userSocket(t)
			return r, func() error { return unix.Sendto(w, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: pid}) }
		}, Stats{Forged: 3}},
		{"a socket pair", func(t *testing.T) (int, func() error) {
			r, w := datagramPair(t)
			return r, func() error { _, err := unix.Write(w, msg); return err }
		}, Stats{Messages: 3, Knocks: 3, Datagrams: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, send := tc.open(t)
			n := &NFLOG{fd: r}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx, func(Packet) {}) }()
			for range 3 {
				if err := send(); err != nil {
					t.Fatal(err)
				}
			}
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if st := n.Stats(); st.Forged+st.Datagrams >= 3 {
					break
				}
			}
			cancel()
			wait(t, done)
			if diff := cmp.Diff(tc.want, n.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}
