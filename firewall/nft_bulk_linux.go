package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// elemWriter queues element messages and sends them as one transaction
// with Flush: the part of NFTConn the filter's Arm and Track use. The
// real backend writes them with nftBulk; fakeNFTConn (newNFTOn) takes them
// as any other write.
type elemWriter interface {
	SetAddElements(*nftables.Set, []nftables.SetElement) error
	SetDeleteElements(*nftables.Set, []nftables.SetElement) error
	Flush() error
}

// nftBulk writes batches of set elements on a netfilter netlink socket
// of its own, encoding each message straight into one buffer, with the
// same bytes as google/nftables (TestNFTBulkBytes), which builds a tree
// of attributes per element and copies the batch on sending: arming the
// window of 100,000 users takes a fraction of the time.
type nftBulk struct {
	fd   int
	seq  uint32
	out  []byte // the batch being built: BATCH_BEGIN and messages
	msgs int    // messages queued, each acknowledged
	in   []byte // acknowledgements
}

var _ elemWriter = (*nftBulk)(nil)

// dialNFTBulk opens the socket in the calling thread's network
// namespace, with acknowledgements that carry no copy of the request
// and buffers for a transaction of nftTxElems elements.
func dialNFTBulk() (*nftBulk, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, nftErr("opening a netfilter netlink socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, nftErr("binding a netfilter netlink socket", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	setSockBuffers(fd)
	return &nftBulk{fd: fd, in: make([]byte, 1<<16)}, nil
}

// setSockBuffers sizes a socket's buffers to nftSockBuf, past the
// system's limits where the process may (CAP_NET_ADMIN), else up to
// them (net.core.wmem_max, rmem_max).
func setSockBuffers(fd int) {
	for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], nftSockBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[1], nftSockBuf)
		}
	}
}

// SetAddElements queues a NEWSETELEM message of els.
func (b *nftBulk) SetAddElements(s *nftables.Set, els []nftables.SetElement) error {
	b.queue(unix.NFT_MSG_NEWSETELEM, s, els)
	return nil
}

// SetDeleteElements queues a DELSETELEM message of els.
func (b *nftBulk) SetDeleteElements(s *nftables.Set, els []nftables.SetElement) error {
	b.queue(unix.NFT_MSG_DELSETELEM, s, els)
	return nil
}

func (b *nftBulk) next() uint32 {
	b.seq++
	return b.seq
}

func (b *nftBulk) queue(msg int, s *nftables.Set, els []nftables.SetElement) {
	if len(els) == 0 {
		return
	}
	if len(b.out) == 0 {
		b.out = appendNFNLMsg(b.out, unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, b.next(), 0, unix.NFNL_SUBSYS_NFTABLES, nil)
	}
	b.out = appendSetElemMsg(b.out, msg, b.next(), s, els)
	b.msgs++
}

// appendNFNLMsg appends a netlink message with an nfgenmsg header and
// the attributes body appends.
func appendNFNLMsg(b []byte, typ, flags uint16, seq uint32, family byte, resID uint16, body func([]byte) []byte) []byte {
	at := len(b)
	b = append(b, make([]byte, unix.NLMSG_HDRLEN)...)
	b = append(b, family, unix.NFNETLINK_V0)
	b = binary.BigEndian.AppendUint16(b, resID)
	if body != nil {
		b = body(b)
	}
	binary.NativeEndian.PutUint32(b[at:], uint32(len(b)-at))
	binary.NativeEndian.PutUint16(b[at+4:], typ)
	binary.NativeEndian.PutUint16(b[at+6:], flags)
	binary.NativeEndian.PutUint32(b[at+8:], seq)
	return b
}

// nftSetElemKeyEnd is NFTA_SET_ELEM_KEY_END, which x/sys/unix lacks.
const nftSetElemKeyEnd = 10

// appendSetElemMsg appends a NEWSETELEM or DELSETELEM message as
// google/nftables encodes it: the set's name, ID and table, then the
// list of elements, each its key (and last key, in an interval set of
// a concatenation) and, in a set with timeouts, its own
// timeout in milliseconds and, when set, its expiration (which
// google/nftables v0.3.0 does not send: the kernel then keeps the
// expiry of an element that exists).
func appendSetElemMsg(b []byte, msg int, seq uint32, s *nftables.Set, els []nftables.SetElement) []byte {
	typ := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | msg)
	flags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE)
	return appendNFNLMsg(b, typ, flags, seq, byte(s.Table.Family), 0, func(b []byte) []byte {
		b = attr(b, unix.NFTA_SET_NAME, append([]byte(s.Name), 0))
		b = attr(b, unix.NFTA_LOOKUP_SET_ID, be32(s.ID))
		b = attr(b, unix.NFTA_SET_TABLE, append([]byte(s.Table.Name), 0))
		return nest(b, unix.NFTA_SET_ELEM_LIST_ELEMENTS, func(b []byte) []byte {
			for i, e := range els {
				b = nest(b, uint16(i+1), func(b []byte) []byte {
					b = nest(b, unix.NFTA_SET_ELEM_KEY, func(b []byte) []byte { return attr(b, unix.NFTA_DATA_VALUE, e.Key) })
					if len(e.KeyEnd) > 0 { // an interval of a concatenation: its last key
						b = nest(b, nftSetElemKeyEnd, func(b []byte) []byte { return attr(b, unix.NFTA_DATA_VALUE, e.KeyEnd) })
					}
					if s.HasTimeout && e.Timeout != 0 {
						b = attr(b, unix.NFTA_SET_ELEM_TIMEOUT, binary.BigEndian.AppendUint64(nil, uint64(e.Timeout.Milliseconds())))
					}
					if s.HasTimeout && e.Expires != 0 {
						b = attr(b, unix.NFTA_SET_ELEM_EXPIRATION, binary.BigEndian.AppendUint64(nil, uint64(e.Expires.Milliseconds())))
					}
					return b
				})
			}
			return b
		})
	})
}

// Flush sends the queued messages as one transaction and reads their
// acknowledgements: nil, or the first error the kernel reported (the
// transaction then changed nothing).
func (b *nftBulk) Flush() error {
	if len(b.out) == 0 {
		return nil
	}
	out, want := appendNFNLMsg(b.out, unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, b.next(), 0, unix.NFNL_SUBSYS_NFTABLES, nil), b.msgs
	b.out, b.msgs = b.out[:0], 0
	if err := unix.Sendto(b.fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// The kernel runs the batch within the send: every acknowledgement
	// is queued by now.
	var first error
	got := 0
	for {
		n, _, err := unix.Recvfrom(b.fd, b.in, unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(b.in[:n])
		if err != nil {
			return fmt.Errorf("reading the acknowledgements: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			got++
			if code := -int32(binary.NativeEndian.Uint32(m.Data)); code != 0 && first == nil {
				first = syscall.Errno(code)
			}
		}
	}
	if first == nil && got < want {
		return fmt.Errorf("%d of %d messages acknowledged", got, want)
	}
	return first
}
