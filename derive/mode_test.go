package derive

import "testing"

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"", ModeSequence, true},
		{"sequence", ModeSequence, true},
		{"Packet", ModePacket, true},
		{"PACKET", ModePacket, true},
		{"burst", 0, false},
		{" packet", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMode(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseMode(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if !tc.ok {
				return
			}
			var back Mode
			text, _ := got.MarshalText()
			if err := back.UnmarshalText(text); err != nil || back != got {
				t.Errorf("round trip of %v through %q = %v, %v", got, text, back, err)
			}
		})
	}
}
