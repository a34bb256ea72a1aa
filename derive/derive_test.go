package derive

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var testSecret = seq(32)

func mustNew(t testing.TB, secret []byte, id string, p Params) *Deriver {
	t.Helper()
	d, err := New(secret, id, p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mustSequence derives the sequence for step from the address src ("" for
// none) and fails the test on an error.
func mustSequence(t testing.TB, d *Deriver, step uint64, src string) []Knock {
	t.Helper()
	var a netip.Addr
	if src != "" {
		a = netip.MustParseAddr(src)
	}
	ks, err := d.Sequence(nil, step, a)
	if err != nil {
		t.Fatalf("Sequence(step %d, src %q): %v", step, src, err)
	}
	return ks
}

// checkSequence asserts the invariants every sequence must have.
func checkSequence(t *testing.T, p Params, ks []Knock) {
	t.Helper()
	if len(ks) != p.Knocks {
		t.Fatalf("got %d knocks, want %d: %v", len(ks), p.Knocks, ks)
	}
	for i, k := range ks {
		if !p.Protocols.Has(k.Proto) {
			t.Errorf("knock %d %v: protocol not in %v", i, k, p.Protocols)
		}
		if k.Port < p.PortMin || k.Port > p.PortMax {
			t.Errorf("knock %d %v: outside %s", i, k, p.RangeString())
		}
		if slices.Contains(p.Exclude, k.Port) {
			t.Errorf("knock %d %v: excluded port", i, k)
		}
		if slices.Contains(ks[:i], k) {
			t.Errorf("knock %d %v: repeated in %v", i, k, ks)
		}
	}
}

func TestSequenceInvariants(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Params)
	}{
		{"defaults", func(p *Params) {}},
		{"icmp only", func(p *Params) { p.Protocols = Protocols(ICMP) }},
		{"all protocols, excluded ports", func(p *Params) {
			p.Protocols, p.Exclude = Protocols(TCP|UDP|ICMP), []uint16{20000, 20001, 40000, 59999}
		}},
		{"tiny space, 16 knocks", func(p *Params) {
			p.Knocks, p.Protocols, p.PortMin, p.PortMax = 16, Protocols(TCP), 100, 121
			p.Exclude = []uint16{100, 110, 121}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.edit(&p)
			d := mustNew(t, testSecret, "example", p)
			var ks []Knock
			for step := uint64(0); step < 2000; step++ {
				var err error
				ks, err = d.Sequence(ks, step, netip.Addr{})
				if err != nil {
					t.Fatal(err)
				}
				checkSequence(t, p, ks)
			}
		})
	}
}

// TestUniform checks, with a chi-square statistic over a fixed secret (so
// the figure is deterministic), that the first knock is uniform over a
// small element space with exclusions.
func TestUniform(t *testing.T) {
	p := Params{Period: 30 * time.Second, Knocks: 16, Protocols: Protocols(TCP | UDP), PortMin: 1000, PortMax: 1011, Exclude: []uint16{1003, 1007}}
	d := mustNew(t, testSecret, "example", p)
	counts := map[Knock]int{}
	const n = 20000
	for step := uint64(0); step < n; step++ {
		ks, err := d.Sequence(nil, step, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		counts[ks[0]]++
	}
	if len(counts) != 20 {
		t.Fatalf("first knock took %d distinct values, want 20: %v", len(counts), counts)
	}
	want := float64(n) / 20
	var chi2 float64
	for _, c := range counts {
		chi2 += (float64(c) - want) * (float64(c) - want) / want
	}
	// 19 degrees of freedom: P(chi2 > 43.8) = 0.001.
	if chi2 > 43.8 {
		t.Errorf("chi-square %.1f over 19 dof: first knock is not uniform: %v", chi2, counts)
	}
}

// TestInputsSeparate checks that every input changes the sequence.
func TestInputsSeparate(t *testing.T) {
	p := DefaultParams()
	base, err := Sequence(testSecret, "example", p, 1000, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	other := seq(32)
	other[31] ^= 1
	tests := []struct {
		name   string
		secret []byte
		id     string
		edit   func(*Params)
		step   uint64
		src    string
	}{
		{"secret", other, "example", nil, 1000, ""},
		{"server id", testSecret, "example.", nil, 1000, ""},
		{"step", testSecret, "example", nil, 1001, ""},
		{"bound IPv4", testSecret, "example", nil, 1000, "198.18.0.1"},
		{"bound IPv6", testSecret, "example", nil, 1000, "2001:2::1"},
		{"period", testSecret, "example", func(p *Params) { p.Period = 31 * time.Second }, 1000, ""},
		{"knocks", testSecret, "example", func(p *Params) { p.Knocks = 5 }, 1000, ""},
		{"protocols", testSecret, "example", func(p *Params) { p.Protocols |= Protocols(ICMP) }, 1000, ""},
		{"range", testSecret, "example", func(p *Params) { p.PortMax-- }, 1000, ""},
		{"exclude", testSecret, "example", func(p *Params) { p.Exclude = []uint16{30000} }, 1000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := DefaultParams()
			if tt.edit != nil {
				tt.edit(&q)
			}
			var src netip.Addr
			if tt.src != "" {
				src = netip.MustParseAddr(tt.src)
			}
			got, err := Sequence(tt.secret, tt.id, q, tt.step, src)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(got, base) {
				t.Errorf("changing %s left the sequence at %v", tt.name, got)
			}
		})
	}
}

func TestSourceForms(t *testing.T) {
	p := DefaultParams()
	d := mustNew(t, testSecret, "example", p)
	v4 := mustSequence(t, d, 7, "198.18.0.9")
	mapped := mustSequence(t, d, 7, "::ffff:198.18.0.9")
	checkSequence(t, p, v4)
	if !slices.Equal(v4, mapped) {
		t.Errorf("IPv4 %v and IPv4-mapped %v differ", v4, mapped)
	}
	plain := mustSequence(t, d, 7, "fe80::1")
	zoned := mustSequence(t, d, 7, "fe80::1%eth0")
	checkSequence(t, p, plain)
	if !slices.Equal(plain, zoned) {
		t.Errorf("zone changed the sequence: %v vs %v", plain, zoned)
	}
	if unbound := mustSequence(t, d, 7, ""); slices.Equal(unbound, v4) || slices.Equal(unbound, plain) {
		t.Errorf("the source did not change the sequence: unbound %v, IPv4 %v, IPv6 %v", unbound, v4, plain)
	}
}

// TestBoundFirstKnock checks spec section 6.1: a source-bound sequence
// starts with the unbound sequence's first knock (what First returns), and
// its other knocks depend on the source; small element spaces make the
// bound stream skip the first knock and repeats.
func TestBoundFirstKnock(t *testing.T) {
	small := Params{Period: 30 * time.Second, Knocks: 8, Protocols: Protocols(TCP | UDP | ICMP), PortMin: 1000, PortMax: 1099}
	for _, tt := range []struct {
		name string
		p    Params
	}{
		{"defaults", DefaultParams()},
		{"288 elements, 8 knocks", small},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := mustNew(t, testSecret, "example", tt.p)
			for step := uint64(56789012); step < 56789012+200; step++ {
				unbound := mustSequence(t, d, step, "")
				first, err := d.First(step)
				if err != nil || first != unbound[0] {
					t.Fatalf("step %d: First = %v, %v; want the unbound first knock %v", step, first, err, unbound[0])
				}
				a := mustSequence(t, d, step, "198.18.0.2")
				b := mustSequence(t, d, step, "2001:2::2")
				checkSequence(t, tt.p, a)
				checkSequence(t, tt.p, b)
				if a[0] != first || b[0] != first {
					t.Fatalf("step %d: bound sequences %v, %v do not start with %v", step, a, b, first)
				}
				if slices.Equal(a[1:], b[1:]) || slices.Equal(a[1:], unbound[1:]) {
					t.Fatalf("step %d: knocks 2.. do not depend on the source: %v, %v, unbound %v", step, a, b, unbound)
				}
			}
		})
	}
}

// fieldOf returns the field of err's FieldError, 0 for none.
func fieldOf(err error) Field {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return 0
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Params)
		field Field  // the field of the error; 0 for valid
		want  string // the error's text
	}{
		{"defaults", func(p *Params) {}, 0, ""},
		{"zero period", func(p *Params) { p.Period = 0 }, FieldPeriod, "period: 0s must be whole seconds from 1s to 1h0m0s"},
		{"fractional period", func(p *Params) { p.Period = 1500 * time.Millisecond }, FieldPeriod, "period: 1.5s must be whole seconds from 1s to 1h0m0s"},
		{"period too long", func(p *Params) { p.Period = 2 * time.Hour }, FieldPeriod, "period: 2h0m0s must be whole seconds from 1s to 1h0m0s"},
		{"no knocks", func(p *Params) { p.Knocks = 0 }, FieldKnocks, "knocks: 0 must be from 1 to 16"},
		{"too many knocks", func(p *Params) { p.Knocks = 17 }, FieldKnocks, "knocks: 17 must be from 1 to 16"},
		{"no protocols", func(p *Params) { p.Protocols = 0 }, FieldProtocols, "protocols: want one or more of tcp, udp, icmp"},
		{"unknown protocol bit", func(p *Params) { p.Protocols = 8 }, FieldProtocols, "protocols: want one or more of tcp, udp, icmp"},
		{"port 0", func(p *Params) { p.PortMin = 0 }, FieldRange, "knock range: 0-59999 must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535"},
		{"inverted range", func(p *Params) { p.PortMin, p.PortMax = 30000, 20000 }, FieldRange, "knock range: 30000-20000 must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535"},
		{"all excluded", func(p *Params) { p.PortMin, p.PortMax, p.Exclude = 100, 101, []uint16{100, 101} }, FieldRange, "knock range: 0 usable elements cannot hold 4 distinct knocks"},
		{"weak", func(p *Params) { p.Knocks = 2 }, FieldStrength,
			"knocks, protocols and knock range: 32.6 bits per sequence, below the minimum of 48: too little entropy per sequence (add knocks or protocols, or widen the range)"},
		{"weak small range", func(p *Params) { p.PortMin, p.PortMax = 20000, 20099 }, FieldStrength,
			"knocks, protocols and knock range: 30.5 bits per sequence, below the minimum of 48: too little entropy per sequence (add knocks or protocols, or widen the range)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.edit(&p)
			err := p.Validate()
			if tt.field == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || fieldOf(err) != tt.field {
				t.Errorf("Validate() = %v (field %v), want %q (field %v)", err, fieldOf(err), tt.want, tt.field)
			}
			if errors.Is(err, ErrWeak) != (tt.field == FieldStrength) {
				t.Errorf("Validate() = %v: wraps ErrWeak %v, want %v", err, errors.Is(err, ErrWeak), tt.field == FieldStrength)
			}
		})
	}
}

func TestFieldsParams(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Fields)
		field Field
	}{
		{"bad protocol", func(f *Fields) { f.Protocols = []string{"tcp", "sctp"} }, FieldProtocols},
		{"bad range", func(f *Fields) { f.KnockRange = "5-1" }, FieldRange},
		{"bad step", func(f *Fields) { f.Step = 1500 * time.Millisecond }, FieldPeriod},
		{"weak", func(f *Fields) { f.Knocks = 2 }, FieldStrength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := DefaultFields()
			tt.edit(&f)
			if _, err := f.Params(); fieldOf(err) != tt.field {
				t.Errorf("Params() = %v (field %v), want field %v", err, fieldOf(err), tt.field)
			}
		})
	}
	if p, err := DefaultFields().Params(); err != nil || p.Bits() != DefaultParams().Bits() {
		t.Errorf("DefaultFields().Params() = %+v, %v, want DefaultParams()", p, err)
	}
}

func TestRename(t *testing.T) {
	p := DefaultParams()
	p.PortMin = 0
	err := Rename(p.Validate(), Field.Key)
	if want := "knock_range: 0-59999 must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535"; err == nil || err.Error() != want {
		t.Errorf("Rename(Validate(), Key) = %v, want %q", err, want)
	}
	if fieldOf(err) != FieldRange {
		t.Errorf("renamed error %v: errors.As finds field %v, want %v", err, fieldOf(err), FieldRange)
	}
	p = DefaultParams()
	p.Knocks = 2
	if err := Rename(p.Validate(), Field.Key); !errors.Is(err, ErrWeak) || !strings.HasPrefix(err.Error(), "knocks, protocols, knock_range: 32.6 bits") {
		t.Errorf("Rename(weak, Key) = %v, want ErrWeak under the YAML keys", err)
	}
	other := errors.New("other")
	if got := Rename(other, Field.Key); got != other {
		t.Errorf("Rename(other) = %v, want it unchanged", got)
	}
	if got := Rename(nil, Field.Key); got != nil {
		t.Errorf("Rename(nil) = %v, want nil", got)
	}
}

func TestBits(t *testing.T) {
	p := DefaultParams()
	if got := p.Bits(); got < 65 || got > 65.2 {
		t.Errorf("default Bits() = %.2f, want 65.1", got)
	}
	if _, err := New(seq(15), "example", p); fieldOf(err) != FieldSecret {
		t.Errorf("15-byte secret: err = %v, want a secret error", err)
	}
	if _, err := New(seq(16), "", p); fieldOf(err) != FieldServerID {
		t.Errorf("empty server id: err = %v, want a server id error", err)
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		unix   int64
		period time.Duration
		step   uint64
		left   time.Duration
	}{
		{-5, 30 * time.Second, 0, 35 * time.Second},
		{0, 30 * time.Second, 0, 30 * time.Second},
		{29, 30 * time.Second, 0, time.Second},
		{30, 30 * time.Second, 1, 30 * time.Second},
		{1<<31 + 30, 30 * time.Second, 71582789, 22 * time.Second},
		{1 << 40, 60 * time.Second, (1 << 40) / 60, 44 * time.Second},
	}
	for _, tt := range tests {
		at := time.Unix(tt.unix, 0)
		if got := Step(at, tt.period); got != tt.step {
			t.Errorf("Step(%d, %v) = %d, want %d", tt.unix, tt.period, got, tt.step)
		}
		if got := Left(at, tt.period); got != tt.left {
			t.Errorf("Left(%d, %v) = %v, want %v", tt.unix, tt.period, got, tt.left)
		}
	}
}

func TestParse(t *testing.T) {
	for _, s := range []string{"tcp/22", "UDP/65535", "icmp/1"} {
		k, err := ParseKnock(s)
		if err != nil || !strings.EqualFold(k.String(), s) {
			t.Errorf("ParseKnock(%q) = %v, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "tcp", "tcp/0", "tcp/65536", "sctp/22", "tcp/-1", "tcp/2 2"} {
		if _, err := ParseKnock(s); err == nil {
			t.Errorf("ParseKnock(%q) succeeded, want an error", s)
		}
	}
	for _, s := range []string{"", "1", "0-10", "10-5", "1-65536", "a-b"} {
		if _, _, err := ParseRange(s); err == nil {
			t.Errorf("ParseRange(%q) succeeded, want an error", s)
		}
	}
	if _, err := ParseProtocols([]string{"tcp", "tcp"}); err == nil {
		t.Errorf("ParseProtocols(tcp, tcp) succeeded, want an error")
	}
}

func TestSequenceAllocs(t *testing.T) {
	d := mustNew(t, testSecret, "example", DefaultParams())
	src := netip.MustParseAddr("2001:2::1")
	ks := make([]Knock, 0, MaxKnocks)
	var err error
	allocs := testing.AllocsPerRun(100, func() {
		ks, err = d.Sequence(ks, 12345, src)
	})
	if err != nil || len(ks) != DefaultKnocks {
		t.Fatalf("Sequence = %v, %v", ks, err)
	}
	if allocs != 0 {
		t.Errorf("Sequence allocates %.0f times per call, want 0", allocs)
	}
}

func TestSecretText(t *testing.T) {
	secret := seq(20)
	text := EncodeSecret(secret)
	if strings.ContainsAny(text, "=") {
		t.Errorf("EncodeSecret(%x) = %q: padded", secret, text)
	}
	for _, in := range []string{text, strings.ToLower(text), " " + text[:8] + " " + text[8:] + "\n", text + "===="} {
		got, err := DecodeSecret(in)
		if err != nil || !slices.Equal(got, secret) {
			t.Errorf("DecodeSecret(%q) = %x, %v, want %x", in, got, err, secret)
		}
	}
	tests := []struct{ in, want string }{
		{"1!", "secret: not Base32"},
		{EncodeSecret(seq(15)), "secret: 120 bits, need at least 128"},
	}
	for _, tt := range tests {
		if _, err := DecodeSecret(tt.in); fieldOf(err) != FieldSecret || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("DecodeSecret(%q): err = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseService(t *testing.T) {
	for _, s := range []string{"tcp/22", "udp/51820"} {
		if k, err := ParseService(s); err != nil || k.String() != s {
			t.Errorf("ParseService(%q) = %v, %v", s, k, err)
		}
	}
	for _, s := range []string{"icmp/1", "tcp/0", "22"} {
		if _, err := ParseService(s); err == nil {
			t.Errorf("ParseService(%q) succeeded, want an error", s)
		}
	}
}

func TestKnocksText(t *testing.T) {
	tests := []struct {
		name        string
		ks          Knocks
		str, spaced string
		args        string
		ok          bool
	}{
		{"none", nil, "", "", "", true},
		{"tcp and udp", Knocks{{TCP, 23456}, {UDP, 34567}}, "tcp/23456,udp/34567", "tcp/23456 udp/34567", "23456:tcp 34567:udp", true},
		{"icmp", Knocks{{TCP, 23456}, {ICMP, 7}}, "tcp/23456,icmp/7", "tcp/23456 icmp/7", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ks.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := tt.ks.Join(" "); got != tt.spaced {
				t.Errorf("Join(\" \") = %q, want %q", got, tt.spaced)
			}
			if args, ok := tt.ks.KnockArgs(); args != tt.args || ok != tt.ok {
				t.Errorf("KnockArgs() = %q, %v, want %q, %v", args, ok, tt.args, tt.ok)
			}
		})
	}
}
