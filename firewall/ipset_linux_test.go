package firewall

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cat joins byte pieces: a message written out attribute by attribute.
func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// TestIpsetMessages checks the filter's ipset requests byte for byte
// (little-endian host order for netlink lengths and types, network
// order for ipset values), as ipset(8) itself sends them (strace of
// `ipset restore`): the header, nfgenmsg, protocol, set name, and for
// an ADD the LINENO the kernel requires beside an ADT list.
func TestIpsetMessages(t *testing.T) {
	hdr := func(n, typ byte, flags byte) []byte {
		// length, type (subsystem 6 << 8 | command), flags REQUEST|ACK (5)
		// and flags>>8, sequence 7, port id 0
		return []byte{n, 0, 0, 0, typ, 6, 5, flags, 7, 0, 0, 0, 0, 0, 0, 0}
	}
	nfgen := []byte{2, 0, 0, 0}             // AF_INET, version 0, res_id 0
	proto := []byte{5, 0, 1, 0, 6, 0, 0, 0} // IPSET_ATTR_PROTOCOL 6
	name := func(s string) []byte {         // IPSET_ATTR_SETNAME, NUL, padding
		b := append([]byte{byte(5 + len(s)), 0, 2, 0}, s...)
		b = append(b, 0)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	lineno := []byte{8, 0, 9, 0x40, 0, 0, 0, 0} // IPSET_ATTR_LINENO|NET_BYTEORDER 0
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"add ports", addPorts(nil, 7, "p", []uint16{30000, 443}, []uint32{5, 90}), cat(
			hdr(88, 9, 0), nfgen, proto, name("p"), lineno,
			[]byte{44, 0, 8, 0x80},                  // IPSET_ATTR_ADT|NESTED
			[]byte{20, 0, 7, 0x80},                  // IPSET_ATTR_DATA|NESTED
			[]byte{6, 0, 4, 0x40, 0x75, 0x30, 0, 0}, // PORT 30000
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 5},       // TIMEOUT 5
			[]byte{20, 0, 7, 0x80},
			[]byte{6, 0, 4, 0x40, 0x01, 0xbb, 0, 0}, // PORT 443
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 90},      // TIMEOUT 90
		)},
		{"add addresses", addAddrs(nil, 7, "s", []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:2::2")}, []uint32{11, 12}), cat(
			hdr(108, 9, 0), nfgen, proto, name("s"), lineno,
			[]byte{64, 0, 8, 0x80},
			[]byte{24, 0, 7, 0x80},
			[]byte{12, 0, 1, 0x80, 8, 0, 1, 0x40, 198, 18, 0, 2}, // IP { IPADDR_IPV4 }
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 11},
			[]byte{36, 0, 7, 0x80},
			[]byte{24, 0, 1, 0x80, 20, 0, 2, 0x40, 0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, // IP { IPADDR_IPV6 }
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 12},
		)},
		{"create ports", createPortSet(7, "p"), cat(
			hdr(96, 2, 0), nfgen, proto, name("p"),
			[]byte{16, 0, 3, 0}, []byte("bitmap:port\x00"), // TYPENAME
			[]byte{5, 0, 4, 0, 3, 0, 0, 0}, // REVISION 3
			[]byte{5, 0, 5, 0, 0, 0, 0, 0}, // FAMILY unspec
			[]byte{28, 0, 7, 0x80},
			[]byte{6, 0, 4, 0x40, 0, 0, 0, 0},       // PORT_FROM 0
			[]byte{6, 0, 5, 0x40, 0xff, 0xff, 0, 0}, // PORT_TO 65535
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 60},      // TIMEOUT 60
		)},
		{"create sources", createSourceSet(7, "s", true), cat(
			hdr(100, 2, 2), nfgen, proto, name("s"), // flags REQUEST|ACK|EXCL (0x205)
			[]byte{12, 0, 3, 0}, []byte("hash:ip\x00"),
			[]byte{5, 0, 4, 0, 4, 0, 0, 0},  // REVISION 4
			[]byte{5, 0, 5, 0, 10, 0, 0, 0}, // FAMILY inet6
			[]byte{36, 0, 7, 0x80},
			[]byte{8, 0, 0x12, 0x40, 0, 0, 0x80, 0}, // HASHSIZE 32768
			[]byte{8, 0, 0x13, 0x40, 0, 4, 0, 0},    // MAXELEM 262144
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 60},      // TIMEOUT 60
			[]byte{8, 0, 8, 0x40, 0, 0, 0, 0x20},    // CADT_FLAGS forceadd
		)},
		{"swap", swapSets(7, "a", "a-new"), cat(
			hdr(48, 6, 0), nfgen, proto, name("a"),
			[]byte{10, 0, 3, 0}, []byte("a-new\x00"), []byte{0, 0}, // SETNAME2
		)},
		{"destroy", destroySet(7, "a"), cat(hdr(36, 3, 0), nfgen, proto, name("a"))},
		{"list header", listHeader(7, "a"), cat(
			hdr(44, 7, 3), nfgen, proto, name("a"), // flags REQUEST|ACK|DUMP (0x305)
			[]byte{8, 0, 6, 0x40, 0, 0, 0, 4}, // FLAGS|NET_BYTEORDER LIST_HEADER
		)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHeaderHashSize reads the hash size from a LIST reply's body as
// the kernel sends it (ipset list -t of a hash:ip set: nfgenmsg,
// protocol, name, type, revision, family, and DATA holding the hash
// size, maximum of elements and the rest); a body without one is 0.
func TestHeaderHashSize(t *testing.T) {
	reply := cat(
		[]byte{10, 0, 0, 0},              // nfgenmsg: AF_INET6
		[]byte{5, 0, 1, 0, 7, 0, 0, 0},   // PROTOCOL 7
		[]byte{6, 0, 2, 0, 's', 0, 0, 0}, // SETNAME
		[]byte{12, 0, 3, 0}, []byte("hash:ip\x00"),
		[]byte{5, 0, 5, 0, 10, 0, 0, 0}, // FAMILY inet6
		[]byte{5, 0, 4, 0, 6, 0, 0, 0},  // REVISION 6
		[]byte{28, 0, 7, 0x80},
		[]byte{8, 0, 6, 0x40, 0, 0, 0, 60},   // TIMEOUT 60
		[]byte{8, 0, 0x12, 0x40, 0, 0, 4, 0}, // HASHSIZE 1024
		[]byte{8, 0, 0x13, 0x40, 0, 4, 0, 0}, // MAXELEM 262144
	)
	tests := []struct {
		name string
		body []byte
		want uint32
	}{
		{"hash:ip", reply, 1024},
		{"no data", reply[:len(reply)-28], 0},
		{"truncated data", reply[:len(reply)-4], 0},
		{"empty", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := headerHashSize(tc.body); got != tc.want {
				t.Errorf("headerHashSize = %d, want %d", got, tc.want)
			}
		})
	}
}
