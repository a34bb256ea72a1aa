package derive

import (
	"fmt"
	"strconv"
	"strings"
)

// Proto is the protocol of one knock. Its values are the bits used for
// the protocol set in the derivation's parameter encoding.
type Proto uint8

// String returns the protocol's name from the table, "tcp", "udp" or
// "icmp".
func (p Proto) String() string {
	if r, ok := p.Info(); ok {
		return r.Name
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// ParseProto parses "tcp", "udp" or "icmp" (any case).
func ParseProto(s string) (Proto, error) {
	for _, r := range protoTable {
		if strings.EqualFold(s, r.Name) {
			return r.Proto, nil
		}
	}
	return 0, fmt.Errorf("unknown protocol %q (want %s)", s, AllProtocols.names(" or "))
}

// Protocols is a set of protocols, one bit per [Proto].
type Protocols uint8

// Has reports whether p is in the set.
func (s Protocols) Has(p Proto) bool { return uint8(s)&uint8(p) != 0 }

// List returns the protocols of the set in canonical order.
func (s Protocols) List() []Proto {
	var out []Proto
	for _, r := range protoTable {
		if s.Has(r.Proto) {
			out = append(out, r.Proto)
		}
	}
	return out
}

// names lists the set's protocols for a message: "tcp, udp or icmp"
// with last " or ", "tcp, udp, icmp" with last ", ".
func (s Protocols) names(last string) string {
	l := s.List()
	names := make([]string, len(l))
	for i, p := range l {
		names[i] = p.String()
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + last + names[len(names)-1]
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
		return 0, fmt.Errorf("no protocol given (want one or more of %s)", AllProtocols.names(", "))
	}
	return s, nil
}

// Knock is one element of a sequence: a protocol and a 16-bit value, the
// destination port for TCP and UDP, the echo sequence number for ICMP
// (the row's [ProtoInfo.Value]).
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
// (knockd's knock), "23456:tcp 34567:udp". ok is false when a knock's
// protocol is one that client cannot send (ICMP; [ProtoInfo.Classic]).
func (ks Knocks) KnockArgs() (args string, ok bool) {
	s := make([]string, len(ks))
	for i, k := range ks {
		if r, _ := k.Proto.Info(); !r.Classic {
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
// knock's form for a protocol whose value is a port (not ICMP, which
// opens nothing; [ProtoInfo.Service]).
func ParseService(s string) (Knock, error) {
	k, err := ParseKnock(s)
	if err != nil {
		return Knock{}, err
	}
	if r, _ := k.Proto.Info(); !r.Service() {
		return Knock{}, fmt.Errorf("%q: a service is %s", s, serviceForms())
	}
	return k, nil
}

// serviceForms lists the forms of a service, "tcp/PORT or udp/PORT".
func serviceForms() string {
	var forms []string
	for _, r := range protoTable {
		if r.Service() {
			forms = append(forms, r.Name+"/PORT")
		}
	}
	if len(forms) < 2 {
		return strings.Join(forms, "")
	}
	return strings.Join(forms[:len(forms)-1], ", ") + " or " + forms[len(forms)-1]
}
