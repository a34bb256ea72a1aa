package derive

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProtoTable(t *testing.T) {
	want := []ProtoInfo{
		{Proto: TCP, Name: "tcp", IP4: 6, IP6: 6, Value: ValuePort, Connect: true, Classic: true},
		{Proto: UDP, Name: "udp", IP4: 17, IP6: 17, Value: ValuePort, Payload: true, Classic: true},
		{Proto: ICMP, Name: "icmp", IP4: 1, IP6: 58, Value: ValueSequence, Echo4: 8, Echo6: 128, Payload: true},
	}
	got := ProtoTable()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ProtoTable() (-want +got):\n%s", diff)
	}
	got[0].Name = "changed"
	if ProtoTable()[0].Name != "tcp" {
		t.Error("ProtoTable returned the table itself, not a copy")
	}
	if len(want) != NumProtos || AllProtocols.String() != "tcp,udp,icmp" {
		t.Errorf("NumProtos %d, AllProtocols %v", NumProtos, AllProtocols)
	}
}

// TestProtoBits pins the bits: they are part of the parameter encoding
// of docs/spec.md, so a row may never change its bit.
func TestProtoBits(t *testing.T) {
	for _, tt := range []struct {
		p    Proto
		bit  uint8
		idx  int
		name string
	}{{TCP, 1, 0, "tcp"}, {UDP, 2, 1, "udp"}, {ICMP, 4, 2, "icmp"}} {
		t.Run(tt.name, func(t *testing.T) {
			if uint8(tt.p) != tt.bit || tt.p.Index() != tt.idx || ProtoAt(tt.idx) != tt.p || tt.p.String() != tt.name {
				t.Errorf("bit %d index %d at %v name %q; want %d %d %v %q", uint8(tt.p), tt.p.Index(), ProtoAt(tt.idx), tt.p, tt.bit, tt.idx, tt.p, tt.name)
			}
			r, ok := tt.p.Info()
			if !ok || r.Proto != tt.p || r.Name != tt.name {
				t.Errorf("Info() = %+v, %v", r, ok)
			}
			p, err := ParseProto(tt.name)
			if err != nil || p != tt.p {
				t.Errorf("ParseProto(%q) = %v, %v", tt.name, p, err)
			}
		})
	}
	for _, p := range []Proto{0, 8, 3, 0x80} {
		if _, ok := p.Info(); ok || p.Index() != -1 {
			t.Errorf("Proto(%d): Info ok %v, Index %d; want false, -1", p, ok, p.Index())
		}
	}
	if ProtoAt(-1) != 0 || ProtoAt(NumProtos) != 0 {
		t.Error("ProtoAt out of range is not 0")
	}
}

func TestProtoByIP(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    uint8
		v6   bool
		want Proto // 0: none
	}{
		{"tcp over ipv4", 6, false, TCP},
		{"tcp over ipv6", 6, true, TCP},
		{"udp over ipv4", 17, false, UDP},
		{"udp over ipv6", 17, true, UDP},
		{"icmp over ipv4", 1, false, ICMP},
		{"icmpv6 over ipv6", 58, true, ICMP},
		{"icmpv6 over ipv4", 58, false, 0},
		{"icmp over ipv6", 1, true, 0},
		{"sctp", 132, false, 0},
		{"hop-by-hop", 0, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := ProtoByIP(tt.n, tt.v6)
			if ok != (tt.want != 0) || r.Proto != tt.want {
				t.Errorf("ProtoByIP(%d, %v) = %v, %v; want %v", tt.n, tt.v6, r.Proto, ok, tt.want)
			}
			if ok && r.IP(tt.v6) != tt.n {
				t.Errorf("IP(%v) = %d, want %d", tt.v6, r.IP(tt.v6), tt.n)
			}
		})
	}
}

func TestProtocolsPayload(t *testing.T) {
	for _, tt := range []struct {
		in, want Protocols
	}{
		{Protocols(TCP), 0},
		{Protocols(TCP | UDP), Protocols(UDP)},
		{Protocols(ICMP | TCP), Protocols(ICMP)},
		{AllProtocols, Protocols(UDP | ICMP)},
	} {
		t.Run(tt.in.String(), func(t *testing.T) {
			if got := tt.in.Payload(); got != tt.want {
				t.Errorf("Payload() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestProtoMessages pins the messages built from the table: they are
// the same as when they were written by hand.
func TestProtoMessages(t *testing.T) {
	_, perr := ParseProto("sctp")
	_, serr := ParseService("icmp/5")
	_, nerr := ParseProtocols(nil)
	verr := Params{Period: 30e9, Knocks: 3, Protocols: 8, PortMin: 1, PortMax: 65535}.Validate()
	for _, tt := range []struct {
		name string
		got  string
		want string
	}{
		{"ParseProto", perr.Error(), `unknown protocol "sctp" (want tcp, udp or icmp)`},
		{"ParseService", serr.Error(), `"icmp/5": a service is tcp/PORT or udp/PORT`},
		{"ParseProtocols", nerr.Error(), "no protocol given (want one or more of tcp, udp, icmp)"},
		{"Validate", verr.Error(), "protocols: want one or more of tcp, udp, icmp"},
		{"ErrNoPacketProtocol", ErrNoPacketProtocol.Error(), "packet knocks need udp or icmp among the protocols"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
