package derive

import (
	"fmt"
	"strconv"
	"strings"
)

// Proto is the protocol of one knock. Its values are the bits used for
// the protocol set in the derivation's parameter encoding.
type Proto uint8

// The knock protocols, in the canonical order of the element space.
const (
	TCP  Proto = 1 << iota // a TCP SYN to the port
	UDP                    // a UDP datagram to the port
	ICMP                   // an ICMP or ICMPv6 echo request; the value is its sequence number
)

// allProtos lists the protocols in canonical order.
var allProtos = [...]Proto{TCP, UDP, ICMP}

// String returns "tcp", "udp" or "icmp".
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMP:
		return "icmp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// ParseProto parses "tcp", "udp" or "icmp" (any case).
func ParseProto(s string) (Proto, error) {
	for _, p := range allProtos {
		if strings.EqualFold(s, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown protocol %q (want tcp, udp or icmp)", s)
}

// Protocols is a set of protocols, one bit per [Proto].
type Protocols uint8

// Has reports whether p is in the set.
func (s Protocols) Has(p Proto) bool { return uint8(s)&uint8(p) != 0 }

// List returns the protocols of the set in canonical order.
func (s Protocols) List() []Proto {
	var out []Proto
	for _, p := range allProtos {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// String returns the set as a comma-separated list, e.g. "tcp,udp".
func (s Protocols) String() string {
	var names []string
	for _, p := range s.List() {
		names = append(names, p.String())
	}
	return strings.Join(names, ",")
}

// ParseProtocols parses a list such as ["tcp", "udp"]; duplicates are
// refused so that a typo cannot hide.
func ParseProtocols(names []string) (Protocols, error) {
	var s Protocols
	for _, n := range names {
		p, err := ParseProto(strings.TrimSpace(n))
		if err != nil {
			return 0, err
		}
		if s.Has(p) {
			return 0, fmt.Errorf("protocol %q listed twice", n)
		}
		s |= Protocols(p)
	}
	if s == 0 {
		return 0, fmt.Errorf("no protocol given (want one or more of tcp, udp, icmp)")
	}
	return s, nil
}

// Knock is one element of a sequence: a protocol and a 16-bit value, the
// destination port for TCP and UDP, the echo sequence number for ICMP.
type Knock struct {
	Proto Proto
	Port  uint16
}

// String formats the knock as "tcp/23456".
func (k Knock) String() string {
	return k.Proto.String() + "/" + strconv.Itoa(int(k.Port))
}

// Knocks is a list of knocks: a sequence, or the services a knock opens.
type Knocks []Knock

// String joins the knocks with commas, "tcp/22,udp/51820": the form of
// lists in messages and of the provisioning URI's open field.
func (ks Knocks) String() string { return ks.Join(",") }

// Join joins the knocks' [Knock.String] forms with sep.
func (ks Knocks) Join(sep string) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = k.String()
	}
	return strings.Join(s, sep)
}

// KnockArgs returns the knocks as arguments of the classic knock client
// (knockd's knock), "23456:tcp 34567:udp". ok is false when a knock is
// ICMP, which that client cannot send.
func (ks Knocks) KnockArgs() (args string, ok bool) {
	s := make([]string, len(ks))
	for i, k := range ks {
		if k.Proto == ICMP {
			return "", false
		}
		s[i] = strconv.Itoa(int(k.Port)) + ":" + k.Proto.String()
	}
	return strings.Join(s, " "), true
}

// ParseKnock parses the "proto/port" form written by [Knock.String].
func ParseKnock(s string) (Knock, error) {
	name, num, ok := strings.Cut(s, "/")
	if !ok {
		return Knock{}, fmt.Errorf("%q: want PROTO/PORT, e.g. tcp/22", s)
	}
	p, err := ParseProto(name)
	if err != nil {
		return Knock{}, fmt.Errorf("%q: %w", s, err)
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return Knock{}, fmt.Errorf("%q: port must be a number from 1 to 65535", s)
	}
	return Knock{Proto: p, Port: uint16(n)}, nil
}

// ParseService parses a protected service, "tcp/22" or "udp/51820": a
// knock's form without ICMP, which opens nothing.
func ParseService(s string) (Knock, error) {
	k, err := ParseKnock(s)
	if err != nil {
		return Knock{}, err
	}
	if k.Proto == ICMP {
		return Knock{}, fmt.Errorf("%q: a service is tcp/PORT or udp/PORT", s)
	}
	return k, nil
}
