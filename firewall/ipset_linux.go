package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The filter's ipset messages are built here rather than through
// vishvananda/netlink, which sends one element per message and cannot
// create a set with forceadd: an ADD message carries up to batchMax
// elements in one IPSET_ATTR_ADT list (as `ipset restore` does), so
// arming the window of 100,000 users is a few dozen messages.

// batchMax is the most elements one ADD message carries: 1,024 IPv6
// entries of 36 bytes stay well under the 64 KiB of a nested attribute
// and the socket's send buffer.
const batchMax = 1024

// ipsetMsgType is the netlink message type of an ipset command.
func ipsetMsgType(cmd int) uint16 { return uint16(unix.NFNL_SUBSYS_IPSET<<8 | cmd) }

// attr appends a netlink attribute of type typ holding v, padded to 4
// bytes.
func attr(b []byte, typ uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nest appends a nested attribute whose body fill appends.
func nest(b []byte, typ uint16, fill func([]byte) []byte) []byte {
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = fill(b)
	binary.NativeEndian.PutUint16(b[at:], uint16(len(b)-at))
	binary.NativeEndian.PutUint16(b[at+2:], typ|unix.NLA_F_NESTED)
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

const netOrder = unix.NLA_F_NET_BYTEORDER

// ipsetMsg returns an ipset request: the netlink and nfgenmsg headers,
// the protocol and the set name, then what body appends.
func ipsetMsg(cmd int, flags uint16, seq uint32, set string, body func([]byte) []byte) []byte {
	return appendIpsetMsg(make([]byte, 0, 256), cmd, flags, seq, set, body)
}

// appendIpsetMsg is ipsetMsg written over buf (from its start), so
// that batches reuse one buffer.
func appendIpsetMsg(buf []byte, cmd int, flags uint16, seq uint32, set string, body func([]byte) []byte) []byte {
	b := append(buf[:0], make([]byte, 16)...)
	b = append(b, unix.AF_INET, unix.NFNETLINK_V0, 0, 0) // nfgenmsg
	b = attr(b, nl.IPSET_ATTR_PROTOCOL, []byte{nl.IPSET_PROTOCOL})
	b = attr(b, nl.IPSET_ATTR_SETNAME, append([]byte(set), 0))
	b = body(b)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], ipsetMsgType(cmd))
	binary.NativeEndian.PutUint16(b[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(b[8:], seq)
	return b
}

// createPortSet is the CREATE of a bitmap:port set over every port,
// with timeouts.
func createPortSet(seq uint32, name string) []byte {
	return ipsetMsg(nl.IPSET_CMD_CREATE, 0, seq, name, func(b []byte) []byte {
		b = attr(b, nl.IPSET_ATTR_TYPENAME, []byte("bitmap:port\x00"))
		b = attr(b, nl.IPSET_ATTR_REVISION, []byte{3})
		b = attr(b, nl.IPSET_ATTR_FAMILY, []byte{unix.AF_UNSPEC})
		return nest(b, nl.IPSET_ATTR_DATA, func(b []byte) []byte {
			b = attr(b, nl.IPSET_ATTR_PORT_FROM|netOrder, be16(0))
			b = attr(b, nl.IPSET_ATTR_PORT_TO|netOrder, be16(65535))
			return attr(b, nl.IPSET_ATTR_TIMEOUT|netOrder, be32(filterTimeout))
		})
	})
}

// createSourceSet is the CREATE of a hash:ip set of one family, with
// sourceHashSize buckets, timeouts, MaxTracked entries and forceadd.
// It is exclusive (NLM_F_EXCL, as ipset create without -exist): the
// kernel answers EEXIST for any set of that name, where it would accept
// one of another hash size (a resize changes it).
func createSourceSet(seq uint32, name string, v6 bool) []byte {
	fam := byte(unix.AF_INET)
	if v6 {
		fam = unix.AF_INET6
	}
	return ipsetMsg(nl.IPSET_CMD_CREATE, unix.NLM_F_EXCL, seq, name, func(b []byte) []byte {
		b = attr(b, nl.IPSET_ATTR_TYPENAME, []byte("hash:ip\x00"))
		b = attr(b, nl.IPSET_ATTR_REVISION, []byte{4})
		b = attr(b, nl.IPSET_ATTR_FAMILY, []byte{fam})
		return nest(b, nl.IPSET_ATTR_DATA, func(b []byte) []byte {
			b = attr(b, nl.IPSET_ATTR_HASHSIZE|netOrder, be32(sourceHashSize))
			b = attr(b, nl.IPSET_ATTR_MAXELEM|netOrder, be32(MaxTracked))
			b = attr(b, nl.IPSET_ATTR_TIMEOUT|netOrder, be32(filterTimeout))
			return attr(b, nl.IPSET_ATTR_CADT_FLAGS|netOrder, be32(nl.IPSET_FLAG_WITH_FORCEADD))
		})
	})
}

// swapSets is the SWAP of the sets named a and b: each name then holds
// the other's set, and what referenced a name (an iptables rule)
// references the set now under it.
func swapSets(seq uint32, a, b string) []byte {
	return ipsetMsg(nl.IPSET_CMD_SWAP, 0, seq, a, func(m []byte) []byte {
		return attr(m, nl.IPSET_ATTR_SETNAME2, append([]byte(b), 0))
	})
}

// destroySet is the DESTROY of a set.
func destroySet(seq uint32, name string) []byte {
	return ipsetMsg(nl.IPSET_CMD_DESTROY, 0, seq, name, func(b []byte) []byte { return b })
}

// listHeaderFlag is ipset's IPSET_FLAG_LIST_HEADER (a command flag
// vishvananda/netlink does not name): a LIST of the set's header,
// without its entries (ipset list -t).
const listHeaderFlag = 1 << 2

// listHeader is the LIST (a dump) of a set's header: its type, family
// and creation data (hash size, maximum of elements), not its entries.
func listHeader(seq uint32, name string) []byte {
	return ipsetMsg(nl.IPSET_CMD_LIST, unix.NLM_F_DUMP, seq, name, func(b []byte) []byte {
		return attr(b, nl.IPSET_ATTR_FLAGS|netOrder, be32(listHeaderFlag))
	})
}

// headerHashSize reads the hash size from a LIST message's body (after
// the netlink header): the HASHSIZE of its DATA; 0 when it has none (a
// set of another type).
func headerHashSize(body []byte) uint32 {
	if len(body) < 4 {
		return 0
	}
	for _, a := range attrs(body[4:]) { // after nfgenmsg
		if a.typ != nl.IPSET_ATTR_DATA {
			continue
		}
		for _, d := range attrs(a.val) {
			if d.typ == nl.IPSET_ATTR_HASHSIZE && len(d.val) == 4 {
				return binary.BigEndian.Uint32(d.val)
			}
		}
	}
	return 0
}

// rawAttr is one netlink attribute: its type without the nested and
// byte-order flags, and its value.
type rawAttr struct {
	typ uint16
	val []byte
}

// attrFlags are the flags of an attribute's type.
const attrFlags = unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER

// attrs splits b into its attributes; a truncated one ends the list.
func attrs(b []byte) []rawAttr {
	var out []rawAttr
	for len(b) >= 4 {
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			break
		}
		out = append(out, rawAttr{binary.NativeEndian.Uint16(b[2:]) &^ attrFlags, b[4:n]})
		b = b[min(len(b), (n+3)&^3):]
	}
	return out
}

// addPorts is an ADD of ports with their timeouts (seconds) to a
// bitmap:port set, written over buf; an existing entry takes the new
// timeout.
func addPorts(buf []byte, seq uint32, set string, ports []uint16, secs []uint32) []byte {
	return appendIpsetMsg(buf, nl.IPSET_CMD_ADD, 0, seq, set, func(b []byte) []byte {
		b = attr(b, nl.IPSET_ATTR_LINENO|netOrder, be32(0)) // required beside a list
		return nest(b, nl.IPSET_ATTR_ADT, func(b []byte) []byte {
			for i, p := range ports {
				b = nest(b, nl.IPSET_ATTR_DATA, func(b []byte) []byte {
					b = attr(b, nl.IPSET_ATTR_PORT|netOrder, be16(p))
					return attr(b, nl.IPSET_ATTR_TIMEOUT|netOrder, be32(secs[i]))
				})
			}
			return b
		})
	})
}

// addAddrs is an ADD of addresses of one family with their timeouts to
// a hash:ip set, written over buf; an existing entry takes the new
// timeout.
func addAddrs(buf []byte, seq uint32, set string, addrs []netip.Addr, secs []uint32) []byte {
	return appendIpsetMsg(buf, nl.IPSET_CMD_ADD, 0, seq, set, func(b []byte) []byte {
		b = attr(b, nl.IPSET_ATTR_LINENO|netOrder, be32(0)) // required beside a list
		return nest(b, nl.IPSET_ATTR_ADT, func(b []byte) []byte {
			for i, a := range addrs {
				b = nest(b, nl.IPSET_ATTR_DATA, func(b []byte) []byte {
					b = nest(b, nl.IPSET_ATTR_IP, func(b []byte) []byte {
						typ := uint16(nl.IPSET_ATTR_IPADDR_IPV6)
						if a.Is4() {
							typ = nl.IPSET_ATTR_IPADDR_IPV4
						}
						return attr(b, typ|netOrder, a.AsSlice())
					})
					return attr(b, nl.IPSET_ATTR_TIMEOUT|netOrder, be32(secs[i]))
				})
			}
			return b
		})
	})
}

// ipsetConn is a netfilter netlink socket that sends ipset requests one
// at a time and waits for each acknowledgement.
type ipsetConn struct {
	fd  int
	seq uint32
	buf []byte // received acknowledgements
	out []byte // the request being built
}

func dialIpset() (*ipsetConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, setErr("opening a netfilter netlink socket", err)
	}
	// An error's acknowledgement echoes the request's header only (not
	// a batch of 36 KiB), so a small receive buffer does.
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1); err != nil {
		unix.Close(fd)
		return nil, setErr("configuring a netfilter netlink socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, setErr("binding a netfilter netlink socket", err)
	}
	// Small buffers: Track runs for a handful of sources at a time; a
	// batch of Arm grows out once.
	return &ipsetConn{fd: fd, buf: make([]byte, 4096), out: make([]byte, 0, 512)}, nil
}

func (c *ipsetConn) close() { unix.Close(c.fd) }

// CreateSource creates the source set name of the family
// (createSourceSet); EEXIST when it exists.
func (c *ipsetConn) CreateSource(name string, v6 bool) error {
	return c.do(createSourceSet(c.next(), name, v6))
}

// HashSize lists the header of set name and returns its hash size;
// ENOENT when the set is missing.
func (c *ipsetConn) HashSize(name string) (uint32, error) {
	var size uint32
	err := c.dump(listHeader(c.next(), name), func(body []byte) {
		if s := headerHashSize(body); s != 0 {
			size = s
		}
	})
	return size, err
}

// Swap exchanges the sets named a and b.
func (c *ipsetConn) Swap(a, b string) error { return c.do(swapSets(c.next(), a, b)) }

// Destroy deletes set name; ENOENT when it is missing.
func (c *ipsetConn) Destroy(name string) error { return c.do(destroySet(c.next(), name)) }

func (c *ipsetConn) next() uint32 {
	c.seq++
	return c.seq
}

// dump sends one dump request (whose sequence number is c.seq) and
// hands each message's body to each until the dump is done, or returns
// the kernel's error.
func (c *ipsetConn) dump(msg []byte, each func(body []byte)) error {
	return c.exchange(msg, "listing", func(m syscall.NetlinkMessage) (bool, error) {
		switch m.Header.Type {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			err := ackErr(m.Data)
			return err != nil, err
		}
		each(m.Data)
		return false, nil
	})
}

// exchange sends msg and hands each reply of its sequence number
// (c.seq) to handle until handle is done or fails; what names the reply
// in a parse error.
func (c *ipsetConn) exchange(msg []byte, what string, handle func(m syscall.NetlinkMessage) (done bool, err error)) error {
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(c.buf[:n])
		if err != nil {
			return fmt.Errorf("reading the %s: %w", what, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq {
				continue
			}
			if done, err := handle(m); done || err != nil {
				return err
			}
		}
	}
}

// ackErr is the error an acknowledgement's body carries: nil, or the
// kernel's error (ipset's own codes named).
func ackErr(data []byte) error {
	if len(data) < 4 {
		return fmt.Errorf("reading the acknowledgement: %d bytes", len(data))
	}
	code := -int32(binary.NativeEndian.Uint32(data))
	switch {
	case code == 0:
		return nil
	case code >= nl.IPSET_ERR_PRIVATE:
		return nl.IPSetError(uintptr(code))
	}
	return syscall.Errno(code)
}

// do sends one request (whose sequence number is c.seq) and waits for
// its acknowledgement: nil, or the kernel's error (ipset's own codes
// named).
func (c *ipsetConn) do(msg []byte) error {
	return c.exchange(msg, "acknowledgement", func(m syscall.NetlinkMessage) (bool, error) {
		if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
			return false, nil
		}
		return true, ackErr(m.Data)
	})
}
