package listener

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// errFakeConn is what fakeConn returns for a request or a receive its
// script does not expect.
var errFakeConn = errors.New("fake netlink: not in the script")

// fakeConn is a conn scripted with the exact requests it expects, in
// order, and the kernel's answer to each: an NLMSG_ERROR message
// carrying an errno, 0 being the acknowledgement. A request that
// differs from the script (sequence numbers aside), one past its end,
// or a receive with no reply waiting is recorded and refused.
type fakeConn struct {
	script []exchange
	next   int                        // the next expected exchange
	queued [][]syscall.NetlinkMessage // replies not yet received
	events []string                   // what happened, one line each
	closed bool
}

// exchange is one expected request and the kernel's answer.
type exchange struct {
	want    *nl.NetlinkRequest
	errno   syscall.Errno // in the NLMSG_ERROR reply; 0 acknowledges
	noReply bool          // the kernel sends nothing back
}

// Send checks req against the next exchange and queues its reply.
func (f *fakeConn) Send(req *nl.NetlinkRequest) error {
	got := req.Serialize()
	if f.closed {
		f.events = append(f.events, "send after close: "+describe(got))
		return errFakeConn
	}
	if f.next >= len(f.script) {
		f.events = append(f.events, "unexpected request: "+describe(got))
		return errFakeConn
	}
	ex := f.script[f.next]
	want := ex.want.Serialize()
	copy(want[8:12], got[8:12]) // sequence numbers count per process
	if !bytes.Equal(got, want) {
		f.events = append(f.events, fmt.Sprintf("request %d differs (sequence number zeroed):\n  got  %x\n  want %x", f.next+1, noSeq(got), noSeq(want)))
		return errFakeConn
	}
	f.next++
	if ex.noReply {
		f.events = append(f.events, fmt.Sprintf("request %d %s: no reply", f.next, describe(got)))
		return nil
	}
	f.events = append(f.events, fmt.Sprintf("request %d %s: %s", f.next, describe(got), answer(ex.errno)))
	f.queued = append(f.queued, []syscall.NetlinkMessage{errorMessage(got, ex.errno)})
	return nil
}

// Receive returns the oldest queued reply.
func (f *fakeConn) Receive() ([]syscall.NetlinkMessage, *unix.SockaddrNetlink, error) {
	if len(f.queued) == 0 {
		f.events = append(f.events, "receive with no reply waiting")
		return nil, nil, errFakeConn
	}
	m := f.queued[0]
	f.queued = f.queued[1:]
	return m, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}, nil
}

// Close marks the connection closed.
func (f *fakeConn) Close() {
	f.closed = true
	f.events = append(f.events, "closed")
}

// String renders the state: each event, then the script's unsent
// requests and the replies never received.
func (f *fakeConn) String() string {
	lines := append([]string(nil), f.events...)
	if n := len(f.script) - f.next; n > 0 {
		lines = append(lines, fmt.Sprintf("%d scripted requests not sent", n))
	}
	if len(f.queued) > 0 {
		lines = append(lines, fmt.Sprintf("%d replies not received", len(f.queued)))
	}
	return strings.Join(lines, "\n")
}

// errorMessage is the kernel's NLMSG_ERROR answer to request: struct
// nlmsgerr, the negative errno followed by the request's header.
func errorMessage(request []byte, errno syscall.Errno) syscall.NetlinkMessage {
	data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	data = append(data, request[:unix.SizeofNlMsghdr]...)
	return syscall.NetlinkMessage{
		Header: syscall.NlMsghdr{
			Len:  uint32(unix.SizeofNlMsghdr + len(data)),
			Type: unix.NLMSG_ERROR,
			Seq:  binary.NativeEndian.Uint32(request[8:]),
		},
		Data: data,
	}
}

// noSeq returns a netlink message with its sequence number zeroed.
func noSeq(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) >= 12 {
		clear(b[8:12])
	}
	return b
}

// describe names a request by its netlink type and flags.
func describe(b []byte) string {
	if len(b) < unix.SizeofNlMsghdr {
		return fmt.Sprintf("%d bytes", len(b))
	}
	return fmt.Sprintf("type %#04x flags %#x, %d bytes", binary.NativeEndian.Uint16(b[4:]), binary.NativeEndian.Uint16(b[6:]), len(b))
}

func answer(errno syscall.Errno) string {
	if errno == 0 {
		return "ACK"
	}
	return fmt.Sprintf("error %d (%v)", int(errno), errno)
}
