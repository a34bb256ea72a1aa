package derive

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// TestValidateServer checks the effective strength against a blind
// sweep: parameter sets with 48 bits per sequence that a sweep walks are
// refused, and the defaults pass or fail with the user count as the
// formula says.
func TestValidateServer(t *testing.T) {
	narrow := Params{Period: DefaultPeriod, Knocks: 16, Protocols: Protocols(TCP), PortMin: 20000, PortMax: 20016}
	small := Params{Period: DefaultPeriod, Knocks: 6, Protocols: Protocols(TCP | UDP), PortMin: 20000, PortMax: 20255}
	thin := Params{Period: DefaultPeriod, Knocks: 5, Protocols: Protocols(TCP), PortMin: 20000, PortMax: 21023}
	five := DefaultParams()
	five.Knocks = 5
	const window, tolerance = 3, 8
	for _, tc := range []struct {
		p     Params
		users int
		ok    bool
	}{
		{narrow, 1, false}, // granted after 17,242 blind packets
		{small, 1, false},
		{thin, 1, false},
		{DefaultParams(), 1, true},
		{DefaultParams(), 66, true},
		{DefaultParams(), 67, false},
		{DefaultParams(), 1000, false},
		{DefaultParams(), 100000, false},
		{five, 1000, true},
		{five, 100000, true},
	} {
		bits := tc.p.EffectiveBits(tc.users, window, tolerance)
		t.Run(fmt.Sprintf("%d knocks over %d elements, %d users: %.1f bits per sequence, %.2f effective", tc.p.Knocks, tc.p.Elements(), tc.users, tc.p.Bits(), bits), func(t *testing.T) {
			n := float64(tc.p.Elements())
			want := math.Log2(n/float64(tc.users*window)) + float64(tc.p.Knocks-1)*math.Log2(n/(tolerance+1))
			if math.Abs(bits-want) > 1e-9 {
				t.Errorf("EffectiveBits = %v, want %v", bits, want)
			}
			if err := tc.p.Validate(); err != nil {
				t.Fatalf("Validate() = %v: the per-sequence floor must pass these", err)
			}
			err := tc.p.ValidateServer(tc.users, window, tolerance)
			if (err == nil) != tc.ok || (err != nil && (!errors.Is(err, ErrWeak) || fieldOf(err) != FieldStrength)) {
				t.Errorf("ValidateServer = %v, want ok %v", err, tc.ok)
			}
			if ok := float64(tc.users) <= tc.p.MaxUsers(window, tolerance); ok != tc.ok {
				t.Errorf("MaxUsers = %v for %d users, want ok %v", tc.p.MaxUsers(window, tolerance), tc.users, tc.ok)
			}
		})
	}
	err := DefaultParams().ValidateServer(1000, window, tolerance)
	want := "knocks, protocols and knock range: 44.1 effective bits against a blind sweep with 1000 users, 3 steps accepted (skew) and 8 strays tolerated, below the minimum of 48: too little entropy per sequence (add knocks or protocols, or widen the range)"
	if err == nil || err.Error() != want {
		t.Errorf("ValidateServer(1000 users) = %v, want %q", err, want)
	}
}
