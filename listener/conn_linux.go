package listener

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

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
	c       counters
	lastSeq uint32
	haveSeq bool
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
	return &NFLOG{conn: s, fd: s.GetFd(), opts: o}, nil
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

// Run reads packets until ctx is done. The socket is non-blocking (the
// netlink library registers it with Go's poller): Run reads every message
// waiting, then sleeps in poll(2) until the next arrives, waking at least
// every 200 ms to notice cancellation.
func (n *NFLOG) Run(ctx context.Context, fn func(Packet)) error {
	fd := n.fd
	wait := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	buf := make([]byte, 1<<16)
	for ctx.Err() == nil {
		m, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		switch {
		case err == nil:
			n.handle(buf[:m], fn)
		case errors.Is(err, unix.EAGAIN):
			if _, err := unix.Poll(wait, 200); err != nil && !errors.Is(err, unix.EINTR) {
				return sysErr("waiting for nflog", err)
			}
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.ENOBUFS):
			n.c.lost.Add(1)
		default:
			return sysErr("reading nflog", err)
		}
	}
	return nil
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
