package listener

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/otpknock/otpknock/clock"
	"github.com/otpknock/otpknock/internal/errno"
	"github.com/otpknock/otpknock/internal/privs"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Options configure an NFLOG subscription.
type Options struct {
	Group     uint16
	CopyRange uint32 // bytes of each packet copied: headers and payload
	RcvBuf    int    // receive buffer in bytes
}

// DefaultOptions copies CopyRange bytes (IP and transport headers, with
// IPv6 extension headers, and a packet knock's payload) into an 8 MiB
// buffer.
func DefaultOptions(group uint16) Options {
	return Options{Group: group, CopyRange: CopyRange, RcvBuf: 8 << 20}
}

// conn is the netlink connection the NFLOG subscription is configured
// through: send one request, receive the messages of one datagram.
// *nl.NetlinkSocket is the kernel's; fakeConn checks the exact requests
// and replays canned replies.
type conn interface {
	// Send writes one request.
	Send(req *nl.NetlinkRequest) error
	// Receive reads one datagram and returns its messages.
	Receive() ([]syscall.NetlinkMessage, *unix.SockaddrNetlink, error)
	// Close closes the connection.
	Close()
}

// NFLOG is a Source reading an NFLOG group over netlink.
type NFLOG struct {
	conn    conn
	fd      int // the socket Run reads packets from
	opts    Options
	clock   clock.Clock // Run's time and wake-ups; nil: clock.System
	c       counters
	lastSeq uint32
	haveSeq bool
	// batching is the queue threshold the kernel was last asked for
	// (0 or 1: none, each message at once).
	batching atomic.Uint32
}

// Open binds the NFLOG group: it fails with a clear error when another
// process holds the group or the kernel lacks NFLOG.
func Open(o Options) (*NFLOG, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, sysErr("opening netfilter netlink socket", err)
	}
	if err := setSockopts(s.GetFd(), o); err != nil {
		s.Close()
		return nil, err
	}
	if err := configure(s, o, privs.NetAdmin); err != nil {
		s.Close()
		return nil, err
	}
	return &NFLOG{conn: s, fd: s.GetFd(), opts: o, clock: clock.System{}}, nil
}

func sysErr(what string, err error) error {
	return errno.Wrap(what, err, "needs root or CAP_NET_ADMIN")
}

// setSockopts sizes the receive buffer (past rmem_max when privileged)
// and turns overruns into sequence gaps instead of ENOBUFS errors.
func setSockopts(fd int, o Options) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, o.RcvBuf); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.RcvBuf)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1); err != nil {
		return sysErr("setting NETLINK_NO_ENOBUFS", err)
	}
	return nil
}

// configure sends the bind and mode requests in turn, each waiting for
// its acknowledgement. The kernel answers EPERM both without
// CAP_NET_ADMIN and when another socket holds the group: netAdmin tells
// which (it is asked only then).
func configure(c conn, o Options, netAdmin func() bool) error {
	for _, req := range configRequests(o) {
		if err := request(c, req); err != nil {
			if errors.Is(err, unix.EBUSY) || (errors.Is(err, unix.EPERM) && netAdmin()) {
				return fmt.Errorf("nflog_group %d: %w (another otpknock server, ulogd?)", o.Group, ErrGroupTaken)
			}
			return sysErr(fmt.Sprintf("configuring nflog_group %d", o.Group), err)
		}
	}
	return nil
}

// request sends one config request and waits for its acknowledgement:
// an NLMSG_ERROR message whose error is 0, or the errno it carries.
func request(c conn, req *nl.NetlinkRequest) error {
	if err := c.Send(req); err != nil {
		return err
	}
	msgs, _, err := c.Receive()
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := -int32(nl.NativeEndian().Uint32(m.Data)); code != 0 {
				return syscall.Errno(code)
			}
		}
	}
	return nil
}

// Close unbinds the group and closes the socket.
func (n *NFLOG) Close() error {
	n.conn.Send(cmdRequest(n.opts.Group, nfulnlCfgCmdUnbind))
	n.conn.Close()
	return nil
}

// Stats returns the counters so far.
func (n *NFLOG) Stats() Stats { return n.c.snapshot() }

// Run reads packets until ctx is done. It waits in Go's poller, not in
// a blocking poll(2): a thread blocked in a system call keeps the
// runtime's monitor thread awake, and under a flood of packets to the
// knock range each wake-up of any of the server's threads is charged
// the kernel's pending network work. Run reads every datagram waiting,
// then parks until the socket is readable again or ctx is done. While
// messages come faster than busyRate, the kernel batches them (see
// batcher): one datagram, and one wake-up, per batch of about
// batchDelay; meanwhile Run's clock wakes it every calmAfter to notice
// the end of the flood (see pacer).
func (n *NFLOG) Run(ctx context.Context, fn func(Packet)) error {
	fd, err := unix.Dup(n.fd) // the poller's own descriptor of the socket
	if err == nil {
		err = unix.SetNonblock(fd, true) // so that os.NewFile registers it with the poller
	}
	if err != nil {
		return sysErr("reading nflog", err)
	}
	f := os.NewFile(uintptr(fd), "nflog")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return sysErr("reading nflog", err)
	}
	// A deadline in the past ends the wait at once: ctx's end and the
	// pacer's wake-ups set one.
	wake := func() { f.SetReadDeadline(time.Unix(1, 0)) }
	stop := context.AfterFunc(ctx, wake)
	defer stop()
	defer n.setBatching(1)
	p := pacer{clock: n.clock, w: waker{wake: wake}}
	if p.clock == nil {
		p.clock = clock.System{}
	}
	defer p.stop() // before f closes
	r := reader{n: n, ctx: ctx, fn: fn, buf: make([]byte, readBuf)}
	for {
		// Clear the last wake-up before looking at the rate: one that
		// comes later ends the next wait at once, so none is missed.
		f.SetReadDeadline(time.Time{})
		if ctx.Err() != nil { // done before: its deadline was just cleared
			return nil
		}
		if queue, changed := p.look(n.c.messages.Load()); changed {
			n.setBatching(queue)
		}
		r.got = 0
		// Read calls the function again after each wait until it says
		// done: once the datagrams waiting are read.
		err := rc.Read(func(fd uintptr) bool { return r.drain(fd) || r.got > 0 })
		switch {
		case r.err != nil:
			return sysErr("reading nflog", r.err)
		case errors.Is(err, os.ErrDeadlineExceeded):
		case err != nil:
			return sysErr("waiting for nflog", err)
		}
	}
}

// readBuf holds the largest datagram the kernel sends: a batch of
// batchBytes, or one packet message of CopyRange bytes.
const readBuf = 2 * batchBytes

// reader reads the datagrams waiting on the socket.
type reader struct {
	n    *NFLOG
	ctx  context.Context
	fn   func(Packet)
	buf  []byte
	got  int   // datagrams read since the last wait
	err  error // a read failed
	from peer  // the last datagram's sender
}

// peer is the address recvfrom(2) names a datagram's sender by.
type peer struct {
	addr unix.RawSockaddrNetlink
	len  uint32 // its length: 0 when the socket names none
}

// kernel says whether the datagram came from the kernel. On a netlink
// socket every datagram names its sender, and the kernel's port id is 0:
// a process with CAP_NET_ADMIN in the namespace can send NFLOG-formatted
// messages to the listener's port id, which then come from its own
// (non-zero) one and are refused unread (Stats.Forged). A socket that
// names no sender (a socket pair in tests) is read as the kernel.
func (s *peer) kernel() bool {
	return s.len < unix.SizeofSockaddrNetlink || s.addr.Family != unix.AF_NETLINK || s.addr.Pid == 0
}

// drain reads and handles every datagram waiting and says whether Run
// is done waiting: false when the socket has none left (EAGAIN), true
// when ctx is done or a read failed. It stops between datagrams once
// ctx is done, even in a flood.
func (r *reader) drain(fd uintptr) bool {
	for r.ctx.Err() == nil {
		m, err := recv(fd, r.buf, &r.from)
		switch {
		case err == nil && !r.from.kernel():
			r.got++
			r.n.c.forged.Add(1)
		case err == nil:
			r.got++
			r.n.c.datagrams.Add(1)
			r.n.handle(r.buf[:m], r.fn)
		case errors.Is(err, unix.EAGAIN):
			return false
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ENOBUFS):
			r.n.c.lost.Add(1)
		default:
			r.err = err
			return true
		}
	}
	return true
}

// setBatching asks the kernel to batch messages by queue, or to send
// each at once (1). The request asks for no acknowledgement, which would
// arrive among the packets; a refusal leaves the kernel as it was.
func (n *NFLOG) setBatching(queue uint32) {
	if n.conn != nil && max(n.batching.Load(), 1) != max(queue, 1) {
		n.conn.Send(batchRequest(n.opts.Group, queue))
		n.batching.Store(queue)
	}
}

// recv reads one datagram without waiting, and its sender into from. It
// is a raw system call: the socket never blocks, and a call through the
// scheduler's syscall entry would wake the runtime's monitor thread from
// its sleep at every packet.
func recv(fd uintptr, buf []byte, from *peer) (int, error) {
	from.len = unix.SizeofSockaddrNetlink
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&from.addr)), uintptr(unsafe.Pointer(&from.len)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// handle decodes one datagram; it is the only per-packet path.
func (n *NFLOG) handle(b []byte, fn func(Packet)) {
	err := walkMessages(b, func(typ uint16, body []byte) {
		if typ != msgPacket {
			return
		}
		n.c.messages.Add(1)
		a, err := parsePacket(body)
		if err != nil {
			n.c.malformed.Add(1)
			return
		}
		n.noteSeq(a)
		p, err := Decode(a.payload)
		if err != nil {
			n.c.malformed.Add(1)
			return
		}
		if a.sec > 0 {
			p.At = time.Unix(a.sec, a.usec*1000)
		}
		n.c.knocks.Add(1)
		if p.Truncated {
			n.c.truncated.Add(1)
		}
		fn(p)
	})
	if err != nil {
		n.c.malformed.Add(1)
	}
}

// noteSeq counts gaps in NFLOG's per-instance sequence numbers.
func (n *NFLOG) noteSeq(a packetAttrs) {
	if !a.hasSeq {
		return
	}
	if n.haveSeq && a.seq != n.lastSeq+1 && a.seq > n.lastSeq {
		n.c.lost.Add(uint64(a.seq - n.lastSeq - 1))
	}
	n.lastSeq, n.haveSeq = a.seq, true
}
