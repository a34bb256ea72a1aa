package derive

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// FuzzSequence derives with arbitrary inputs: New either refuses them
// with an error or every sequence it returns holds the invariants.
func FuzzSequence(f *testing.F) {
	f.Add(seq(32), "example", uint16(30), uint8(4), uint8(3), uint16(20000), uint16(59999), []byte{0x4e, 0x20}, uint64(0), []byte{})
	f.Add(seq(16), "x", uint16(60), uint8(16), uint8(7), uint16(1), uint16(65535), []byte{}, ^uint64(0), []byte{198, 18, 0, 1})
	f.Add(seq(16), "y", uint16(1), uint8(8), uint8(4), uint16(1000), uint16(1099), []byte{3, 232, 3, 233}, uint64(1<<40), seq(16))
	f.Fuzz(func(t *testing.T, secret []byte, id string, period uint16, knocks, protos uint8, lo, hi uint16, excl []byte, step uint64, src []byte) {
		p := Params{Period: time.Duration(period) * time.Second, Knocks: int(knocks), Protocols: Protocols(protos), PortMin: lo, PortMax: hi}
		for i := 0; i+2 <= len(excl) && i < 64; i += 2 {
			p.Exclude = append(p.Exclude, binary.BigEndian.Uint16(excl[i:]))
		}
		d, err := New(secret, id, p)
		if err != nil {
			return
		}
		addr, _ := netip.AddrFromSlice(src)
		ks, err := d.Sequence(nil, step, addr)
		if err != nil {
			t.Fatalf("valid params %+v: %v", p, err)
		}
		checkSequence(t, p, ks)
	})
}
