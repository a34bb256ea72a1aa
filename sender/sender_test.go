package sender

import (
	"net/netip"
	"testing"

	"github.com/otpknock/otpknock/internal/packettest"
)

func TestSYNSegment(t *testing.T) {
	for _, pair := range [][2]string{{"198.18.0.2", "198.18.0.1"}, {"2001:2::2", "2001:2::1"}} {
		src, dst := netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1])
		seg := synSegment(src, dst, 23456)
		if len(seg) != 24 || seg[13] != 0x02 || seg[12]>>4 != 6 || seg[2] != 23456>>8 || seg[3] != 23456&0xff {
			t.Errorf("%v: bad header % x", dst, seg)
		}
		if sp := int(seg[0])<<8 | int(seg[1]); sp < 32768 || sp > 60999 {
			t.Errorf("source port %d outside the ephemeral range", sp)
		}
		// A correct checksum makes the checksum over pseudo-header and
		// segment 0 (computed here by packettest, not by the sender).
		if c := packettest.Checksum(packettest.PseudoHeader(src, dst, packettest.ProtoTCP, len(seg)), seg); c != 0 {
			t.Errorf("%v: checksum does not verify (residue %#04x)", dst, c)
		}
	}
}
