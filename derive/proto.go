package derive

// This file is the protocol table: every fact about a knock carrier
// that more than its wire code needs. Sender, listener, firewall,
// matcher, config, client and TUI read these rows rather than switch on
// a [Proto]. A new carrier is a constant below, a row in protoTable and
// its wire code: the sender's socket code and the listener's decoder of
// its header (and, for the kernel, the firewall's match of it).
//
// The bit of a row is part of the derivation's parameter encoding and
// the row order is the canonical order of the element space
// (docs/spec.md): a new carrier takes the next bit and goes last, so
// that every existing sequence and vector stays the same.

// The knock protocols, in the canonical order of the element space.
const (
	TCP  Proto = 1 << iota // a TCP SYN to the port
	UDP                    // a UDP datagram to the port
	ICMP                   // an ICMP or ICMPv6 echo request; the value is its sequence number
)

// AllProtocols is the set of every protocol of the table.
const AllProtocols = Protocols(TCP | UDP | ICMP)

// NumProtos is the number of protocols: the rows of the table, and the
// range of [Proto.Index].
const NumProtos = 3

// Value is what a knock's 16-bit value is on the wire.
type Value uint8

// The kinds of knock value.
const (
	ValuePort     Value = iota + 1 // the destination port of a TCP or UDP header
	ValueSequence                  // the sequence number of an echo request
)

// ProtoInfo is one row of the protocol table.
type ProtoInfo struct {
	Proto Proto  // the bit in a [Protocols] set and in the parameter encoding
	Name  string // "tcp": configuration, URIs, messages, metrics

	// IP4 and IP6 are the IP protocol numbers of the carrier: IPv4's
	// protocol field and IPv6's last next-header value.
	IP4, IP6 uint8

	// Value is what the knock's 16-bit value is: a port or an echo
	// sequence number.
	Value Value

	// Echo4 and Echo6 are the ICMP and ICMPv6 types of an echo request
	// carrier (code 0); 0 for the others.
	Echo4, Echo6 uint8

	// Payload reports whether the carrier can carry a packet knock's
	// payload (docs/spec.md section 11): a UDP datagram or an echo
	// request can, a TCP SYN cannot.
	Payload bool

	// Connect reports whether a service on it answers a connect, so that
	// a knock can wait for it to open.
	Connect bool

	// Classic reports whether knockd's knock client can send it.
	Classic bool
}

// Service reports whether a service (something a grant opens, such as
// tcp/22) can be of this protocol: whether its value is a port.
func (i ProtoInfo) Service() bool { return i.Value == ValuePort }

// IP returns the IP protocol number of the carrier in one family.
func (i ProtoInfo) IP(v6 bool) uint8 {
	if v6 {
		return i.IP6
	}
	return i.IP4
}

// Echo returns the echo request type of the carrier in one family; 0
// when it is not an echo request.
func (i ProtoInfo) Echo(v6 bool) uint8 {
	if v6 {
		return i.Echo6
	}
	return i.Echo4
}

// protoTable holds the rows in canonical order; it is never written.
var protoTable = [NumProtos]ProtoInfo{
	{Proto: TCP, Name: "tcp", IP4: 6, IP6: 6, Value: ValuePort, Connect: true, Classic: true},
	{Proto: UDP, Name: "udp", IP4: 17, IP6: 17, Value: ValuePort, Payload: true, Classic: true},
	{Proto: ICMP, Name: "icmp", IP4: 1, IP6: 58, Value: ValueSequence, Echo4: 8, Echo6: 128, Payload: true},
}

// ProtoTable returns a copy of the protocol table, in canonical order.
func ProtoTable() []ProtoInfo { return append([]ProtoInfo(nil), protoTable[:]...) }

// Info returns the row of p, and false when p is not one protocol of
// the table.
func (p Proto) Info() (ProtoInfo, bool) {
	if i := p.Index(); i >= 0 {
		return protoTable[i], true
	}
	return ProtoInfo{}, false
}

// Index returns the position of p in canonical order, from 0 to
// NumProtos-1, and -1 when p is not one protocol of the table.
func (p Proto) Index() int {
	for i := range protoTable {
		if protoTable[i].Proto == p {
			return i
		}
	}
	return -1
}

// ProtoAt returns the protocol at position i of canonical order (the
// inverse of [Proto.Index]); 0 when i is out of range.
func ProtoAt(i int) Proto {
	if i < 0 || i >= NumProtos {
		return 0
	}
	return protoTable[i].Proto
}

// ProtoByIP returns the row of the carrier whose IP protocol number in
// the family (v6: IPv6's next header) is n, and false when no carrier
// travels over n in that family (ICMPv6 over IPv4, ICMP over IPv6).
func ProtoByIP(n uint8, v6 bool) (ProtoInfo, bool) {
	for _, r := range protoTable {
		if r.IP(v6) == n {
			return r, true
		}
	}
	return ProtoInfo{}, false
}

// Payload returns the subset of s whose carriers can carry a packet
// knock's payload.
func (s Protocols) Payload() Protocols {
	var out Protocols
	for _, r := range protoTable {
		if r.Payload && s.Has(r.Proto) {
			out |= Protocols(r.Proto)
		}
	}
	return out
}
