package listener

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// datagramPair returns a connected pair of datagram sockets: Run reads
// the first as it reads the NFLOG socket, the test writes the kernel's
// datagrams into the second.
func datagramPair(t *testing.T) (read, write int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// wait returns Run's error, failing the test when Run does not return.
func wait(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestRunIdle delivers each datagram's messages in order as they come,
// and returns once ctx is done while it waits for more.
func TestRunIdle(t *testing.T) {
	r, w := datagramPair(t)
	n := &NFLOG{fd: r}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, ports := make(chan error, 1), make(chan uint16, 2)
	go func() { done <- n.Run(ctx, func(p Packet) { ports <- p.Knock.Port }) }()
	dgram := append(packetMsg(1, ip4(17, 0, 0, udp(40001))), packetMsg(2, ip4(6, 0, 0, tcp(40002, 2)))...)
	if _, err := unix.Write(w, dgram); err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint16{40001, 40002} {
		select {
		case got := <-ports:
			if got != want {
				t.Fatalf("port %d delivered, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("port %d not delivered", want)
		}
	}
	cancel()
	wait(t, done)
	if st := n.Stats(); st.Knocks != 2 || st.Malformed != 0 {
		t.Errorf("stats %+v, want 2 knocks, none malformed", st)
	}
}

// TestRunStopsInFlood returns once ctx is done although datagrams are
// still waiting: a flood never keeps the server from stopping.
func TestRunStopsInFlood(t *testing.T) {
	r, w := datagramPair(t)
	one := packetMsg(1, ip4(17, 0, 0, udp(40001)))
	queued := 0
	for ; queued < 100; queued++ {
		if _, err := unix.Write(w, one); err != nil {
			break // the socket's queue is full
		}
	}
	if queued < 2 {
		t.Fatalf("only %d datagrams queued", queued)
	}
	n := &NFLOG{fd: r}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, func(Packet) { cancel() }) }()
	wait(t, done)
	if got := n.Stats().Knocks; got != 1 {
		t.Errorf("Run delivered %d of %d waiting datagrams after cancel, want 1", got, queued)
	}
}

// requests records the config requests Run sends, as the kernel would
// receive them (sequence numbers zeroed).
type requests struct {
	mu   sync.Mutex
	sent [][]byte
}

func (r *requests) Send(req *nl.NetlinkRequest) error {
	b := req.Serialize()
	copy(b[8:12], []byte{0, 0, 0, 0})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, b)
	return nil
}

func (r *requests) Receive() ([]syscall.NetlinkMessage, *unix.SockaddrNetlink, error) {
	return nil, nil, errors.New("not a source of replies")
}

func (r *requests) Close() {}

// TestRunBatches asks the kernel to batch messages once they come
// faster than busyRate, and to send each at once again when they stop
// for calmAfter (Run wakes by itself to see it), with the exact
// requests; it sends nothing more when it ends.
func TestRunBatches(t *testing.T) {
	r, w := datagramPair(t)
	rec := &requests{}
	n := &NFLOG{fd: r, conn: rec, opts: DefaultOptions(4711)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, func(Packet) {}) }()
	one := packetMsg(1, ip4(17, 0, 0, udp(40001)))
	deadline := time.Now().Add(10 * time.Second)
	for n.batching.Load() <= 1 && time.Now().Before(deadline) { // about 2,000 a second
		unix.Write(w, one) // EAGAIN when the reader lags: fine
		time.Sleep(500 * time.Microsecond)
	}
	if n.batching.Load() <= 1 {
		t.Fatalf("no batching after 10 s of datagrams (%d read)", n.Stats().Messages)
	}
	for n.batching.Load() > 1 && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wait(t, done)
	// Batching with the threshold each request names (the rate varies:
	// one or more), then one message at a time.
	var want [][]byte
	for i, got := range rec.sent {
		q := uint32(1)
		if i < len(rec.sent)-1 {
			q = max(2, binary.BigEndian.Uint32(got[len(got)-4:]))
		}
		b := batchRequest(4711, q).Serialize()
		copy(b[8:12], []byte{0, 0, 0, 0})
		want = append(want, b)
	}
	if len(rec.sent) < 2 {
		t.Errorf("%d requests, want batching then none", len(rec.sent))
	}
	if diff := cmp.Diff(want, rec.sent); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
