package listener

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/packettest"
)

// data is n bytes counting up from 1, so that a payload cut or shifted
// by a byte shows.
func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func udpWith(port uint16, payload []byte) []byte { return packettest.UDP(40000, port, payload) }
func echoWith(typ byte, seq uint16, payload []byte) []byte {
	return append(echo(typ, seq), payload...)
}

// TestDecodePayload checks the payload Decode returns: the UDP payload
// or the echo data, bounded by the IP header's length, and nil with
// Truncated set when the capture ended before the payload did.
func TestDecodePayload(t *testing.T) {
	max := data(derive.MaxPayload)
	long6 := ip6(0, [][]byte{packettest.Ext(60, 40), packettest.Ext(17, 32)}, udpWith(40123, max))
	tests := []struct {
		name      string
		pkt       []byte
		want      []byte
		truncated bool
	}{
		{"v4 udp", ip4(17, 0, 0, udpWith(40123, data(64))), data(64), false},
		{"v4 udp empty", ip4(17, 0, 0, udpWith(40123, nil)), []byte{}, false},
		{"v4 udp with options, largest payload", ip4(17, 10, 0, udpWith(40123, max)), max, false},
		{"v4 echo", ip4(1, 0, 0, echoWith(8, 31337, data(100))), data(100), false},
		{"v6 udp", ip6(17, nil, udpWith(59999, data(128))), data(128), false},
		{"v6 echo largest", ip6(58, nil, echoWith(128, 4242, max)), max, false},
		{"v6 ext headers, largest payload", long6, max, false},
		{"v4 trailing bytes past total length", append(ip4(17, 0, 0, udpWith(40123, data(40))), 0xee, 0xee), data(40), false},
		{"v6 trailing bytes past payload length", append(ip6(58, nil, echoWith(128, 9, data(40))), 0xee), data(40), false},
		{"v4 udp cut by the copy range", ip4(17, 0, 0, udpWith(40123, data(64)))[:60], nil, true},
		{"v4 echo cut by the copy range", ip4(1, 0, 0, echoWith(8, 7, data(64)))[:90], nil, true},
		{"v6 udp cut by the copy range", ip6(17, nil, udpWith(40123, max))[:CopyRange-100], nil, true},
		{"v6 echo cut after its header", ip6(58, nil, echoWith(128, 7, data(64)))[:48], nil, true},
		{"v6 jumbogram length", zeroPayloadLen(ip6(58, nil, echoWith(128, 7, data(8)))), nil, true},
		{"v4 udp length shorter than its header", udpLen(ip4(17, 0, 0, udpWith(40123, data(16))), 20, 7), nil, false},
		{"v4 udp length beyond the packet", udpLen(ip4(17, 0, 0, udpWith(40123, data(16))), 20, 25), nil, false},
		{"v4 udp length inside the packet", udpLen(ip4(17, 0, 0, udpWith(40123, data(16))), 20, 12), data(4), false},
		{"tcp syn", ip4(6, 0, 0, tcp(23456, 0x02)), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode(tt.pkt)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, p.Payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if (p.Payload == nil) != (tt.want == nil) {
				t.Errorf("payload nil = %v, want %v", p.Payload == nil, tt.want == nil)
			}
			if p.Truncated != tt.truncated {
				t.Errorf("truncated = %v, want %v", p.Truncated, tt.truncated)
			}
			if len(p.Payload) > 0 && !aliases(tt.pkt, p.Payload) {
				t.Errorf("payload is a copy, want a sub-slice of the packet")
			}
		})
	}
	if n := len(long6); n > CopyRange {
		t.Errorf("an IPv6 knock with 72 bytes of extension headers and the largest payload is %d bytes, beyond CopyRange %d", n, CopyRange)
	}
}

// zeroPayloadLen sets an IPv6 packet's payload length to 0, as a
// jumbogram has it.
func zeroPayloadLen(b []byte) []byte {
	b[4], b[5] = 0, 0
	return b
}

// udpLen sets the UDP length field of the datagram at off in b.
func udpLen(b []byte, off int, n uint16) []byte {
	binary.BigEndian.PutUint16(b[off+4:], n)
	return b
}

// aliases reports whether sub lies inside b's memory.
func aliases(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return len(b)-i >= len(sub)
		}
	}
	return false
}

// TestDecodeAllocs: the per-packet decoding allocates nothing, payload
// included.
func TestDecodeAllocs(t *testing.T) {
	pkt := ip6(58, nil, echoWith(128, 4242, data(derive.MaxPayload)))
	var p Packet
	n := testing.AllocsPerRun(100, func() { p, _ = Decode(pkt) })
	if n != 0 {
		t.Errorf("Decode allocates %v times per packet", n)
	}
	if !bytes.Equal(p.Payload, data(derive.MaxPayload)) {
		t.Errorf("payload %x", p.Payload)
	}
}
