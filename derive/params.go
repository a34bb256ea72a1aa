package derive

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of the parameters.
const (
	DefaultPeriod  = 30 * time.Second
	DefaultKnocks  = 4
	DefaultPortMin = 20000
	DefaultPortMax = 59999
	MaxKnocks      = 16
	MaxPeriod      = 3600 * time.Second
	// MinBits is the least entropy per sequence a parameter set may give,
	// and the least work of a blind sweep ([Params.EffectiveBits]) a
	// server may offer.
	MinBits = 48
	// MinElements is the least element space (protocols times usable
	// ports) a server accepts: below it, stray tolerance lets a sweep
	// walk a sequence whatever its length.
	MinElements = 1024
	// MaxExcluded is the most excluded ports a knock range may hold: the
	// encoded parameters, 12 + 2 per excluded port bytes, carry a 16-bit
	// length in every derivation message.
	MaxExcluded = (65535 - 12) / 2
)

// ErrWeak is returned (wrapped) by [Params.Validate] when a parameter set
// gives fewer than [MinBits] bits per sequence.
var ErrWeak = errors.New("too little entropy per sequence")

// Params are the knock parameters shared by a server and its clients.
// They are part of the derivation's input, so a client with other
// parameters derives unrelated sequences.
type Params struct {
	Period    time.Duration // step length: whole seconds, 1 s to 1 h
	Knocks    int           // knocks per sequence, 1 to MaxKnocks
	Protocols Protocols     // protocols knocks are drawn from
	PortMin   uint16        // knock range, inclusive
	PortMax   uint16
	Exclude   []uint16 // ports never used as knocks (protected services)
}

// DefaultParams returns 4 knocks over TCP and UDP in ports 20000-59999
// with 30-second steps: about 65 bits per sequence, and at least 48
// effective bits against a blind sweep up to 66 sequence users (with
// skew 1; 5 knocks keep it up to about 500,000).
func DefaultParams() Params {
	return Params{
		Period:    DefaultPeriod,
		Knocks:    DefaultKnocks,
		Protocols: Protocols(TCP | UDP),
		PortMin:   DefaultPortMin,
		PortMax:   DefaultPortMax,
	}
}

// Validate checks every field and the entropy of the set. Its errors are
// [*FieldError]s naming the field they are about; one that is about the
// entropy, [FieldStrength], wraps [ErrWeak].
func (p Params) Validate() error {
	if p.Period < time.Second || p.Period > MaxPeriod || p.Period%time.Second != 0 {
		return fieldError(FieldPeriod, "%v must be whole seconds from 1s to %v", p.Period, MaxPeriod)
	}
	if p.Knocks < 1 || p.Knocks > MaxKnocks {
		return fieldError(FieldKnocks, "%d must be from 1 to %d", p.Knocks, MaxKnocks)
	}
	if p.Protocols == 0 || p.Protocols&^AllProtocols != 0 {
		return fieldError(FieldProtocols, "want one or more of %s", AllProtocols.names(", "))
	}
	if p.PortMin == 0 || p.PortMin > p.PortMax {
		return fieldError(FieldRange, "%s must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535", p.RangeString())
	}
	if n := len(p.excluded()); n > MaxExcluded {
		return fieldError(FieldExclude, "%d excluded ports in the knock range, at most %d", n, MaxExcluded)
	}
	if n := p.Elements(); n < uint32(p.Knocks) {
		return fieldError(FieldRange, "%d usable elements cannot hold %d distinct knocks", n, p.Knocks)
	}
	if bits := p.Bits(); bits < MinBits {
		return fieldError(FieldStrength, "%.1f bits per sequence, below the minimum of %d: %w (add knocks or protocols, or widen the range)", bits, MinBits, ErrWeak)
	}
	return nil
}

// excluded returns the excluded ports that lie in the knock range,
// sorted and without duplicates: the canonical form used for encoding
// and sampling.
func (p Params) excluded() []uint16 {
	var out []uint16
	for _, e := range p.Exclude {
		if e >= p.PortMin && e <= p.PortMax {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// values is the number of usable 16-bit values: the range minus the
// excluded ports.
func (p Params) values() uint32 {
	if p.PortMin == 0 || p.PortMin > p.PortMax {
		return 0
	}
	return uint32(p.PortMax) - uint32(p.PortMin) + 1 - uint32(len(p.excluded()))
}

// Elements returns the size of the element space: protocols times usable
// values.
func (p Params) Elements() uint32 {
	return uint32(len(p.Protocols.List())) * p.values()
}

// Bits returns the entropy of one sequence in bits: log2 of the number of
// ordered sequences of distinct elements.
func (p Params) Bits() float64 {
	n := float64(p.Elements())
	var bits float64
	for i := 0; i < p.Knocks && float64(i) < n; i++ {
		bits += math.Log2(n - float64(i))
	}
	return bits
}

// EffectiveBits returns the work of a blind sweep against a server, in
// bits: log2(N/(U*W)) + (k-1)*log2(N/(T+1)) for N elements, k knocks, U
// users, W = window steps accepted at once (2*skew+1) and T strays
// tolerated between two knocks. A random packet starts a candidate when
// it is any of the U*W first knocks of the window, and each next knock
// then gets T+1 tries. The entropy of one sequence ([Params.Bits])
// counts neither.
func (p Params) EffectiveBits(users, window, tolerance int) float64 {
	n := float64(p.Elements())
	first := float64(max(users, 1)) * float64(max(window, 1))
	return math.Log2(n/first) + float64(p.Knocks-1)*math.Log2(n/float64(max(tolerance, 0)+1))
}

// ValidateServer checks that a server with users users, window steps
// accepted at once and tolerance strays between knocks resists a blind
// sweep: at least [MinElements] elements and [MinBits] effective bits.
// Its error is a [*FieldError] about [FieldStrength] wrapping [ErrWeak].
func (p Params) ValidateServer(users, window, tolerance int) error {
	if n := p.Elements(); n < MinElements {
		return fieldError(FieldStrength, "%d elements (protocols times usable ports), below the minimum of %d: %w (widen the range or add protocols)", n, MinElements, ErrWeak)
	}
	if bits := p.EffectiveBits(users, window, tolerance); bits < MinBits {
		return fieldError(FieldStrength, "%.1f effective bits against a blind sweep with %d users, %d steps accepted (skew) and %d strays tolerated, below the minimum of %d: %w (add knocks or protocols, or widen the range)",
			bits, users, window, tolerance, MinBits, ErrWeak)
	}
	return nil
}

// MaxUsers returns the most users a server with window steps accepted
// and tolerance strays may have while keeping [MinBits] effective bits;
// 0 when not even one user does.
func (p Params) MaxUsers(window, tolerance int) float64 {
	spare := p.EffectiveBits(1, window, tolerance) - MinBits
	if spare < 0 || p.Elements() < MinElements {
		return 0
	}
	return math.Floor(math.Exp2(spare))
}

// RangeString formats the knock range as "20000-59999".
func (p Params) RangeString() string {
	return strconv.Itoa(int(p.PortMin)) + "-" + strconv.Itoa(int(p.PortMax))
}

// ParseRange parses "LOW-HIGH".
func ParseRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
		y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
		if err1 == nil && err2 == nil && x >= 1 && x <= y {
			return uint16(x), uint16(y), nil
		}
	}
	return 0, 0, fmt.Errorf("%q: want LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. 20000-59999", s)
}
