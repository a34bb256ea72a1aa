package derive

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const errorVectorFile = "../testdata/derive_v1_errors.json"

// errorFileJSON holds parameter sets every implementation must refuse;
// each vector has exactly one fault, named by its error category (spec
// section 8).
type errorFileJSON struct {
	Version int               `json:"version"`
	Spec    string            `json:"spec"`
	Source  string            `json:"source"`
	Vectors []errorVectorJSON `json:"vectors"`
}

type errorVectorJSON struct {
	Name          string   `json:"name"`
	SecretHex     string   `json:"secret_hex"`
	ServerID      string   `json:"server_id"`
	Period        int      `json:"period"`
	Knocks        int      `json:"knocks"`
	Protocols     []string `json:"protocols"`
	KnockRange    string   `json:"knock_range"`
	Exclude       []uint16 `json:"exclude"`
	ExcludeRanges []string `json:"exclude_ranges,omitempty"`
	// UnixTime, when present, is a time to derive at (category time).
	UnixTime exactTime `json:"unix_time,omitempty"`
	Error    string    `json:"error"`
}

// errorWords are, for each category, words one of which otpknock's error
// message contains. The check is loose on purpose: the vectors fix the
// category, not the wording or the error type.
var errorWords = map[string][]string{
	"secret":      {"secret"},
	"server_id":   {"server_id", "server id"},
	"period":      {"step", "period"},
	"knocks":      {"knocks"},
	"protocols":   {"protocol"},
	"knock_range": {"knock_range", "range"},
	"elements":    {"elements"},
	"exclude":     {"exclude"},
	"weak":        {"48"},
	"time":        {"time"},
}

// knownDeviations are error vectors this implementation does not refuse
// yet, with the change they need. The test asserts that they still pass
// New, so fixing one fails here until its entry is removed.
var knownDeviations = map[string]string{}

func errorInputs() []errorVectorJSON {
	base := func(name, category string) errorVectorJSON {
		return errorVectorJSON{Name: name, SecretHex: hex.EncodeToString(seq(32)), ServerID: "example",
			Period: 30, Knocks: 4, Protocols: []string{"tcp", "udp"}, KnockRange: "20000-59999",
			Exclude: []uint16{}, Error: category}
	}
	var vs []errorVectorJSON
	add := func(v errorVectorJSON, edit func(*errorVectorJSON)) {
		edit(&v)
		vs = append(vs, v)
	}
	add(base("15-byte secret", "secret"), func(v *errorVectorJSON) { v.SecretHex = hex.EncodeToString(seq(15)) })
	add(base("empty secret", "secret"), func(v *errorVectorJSON) { v.SecretHex = "" })
	add(base("empty server id", "server_id"), func(v *errorVectorJSON) { v.ServerID = "" })
	add(base("256-byte server id", "server_id"), func(v *errorVectorJSON) { v.ServerID = strings.Repeat("s", 256) })
	add(base("period 0", "period"), func(v *errorVectorJSON) { v.Period = 0 })
	add(base("period 3601", "period"), func(v *errorVectorJSON) { v.Period = 3601 })
	add(base("0 knocks", "knocks"), func(v *errorVectorJSON) { v.Knocks = 0 })
	add(base("17 knocks", "knocks"), func(v *errorVectorJSON) { v.Knocks = 17 })
	add(base("no protocol", "protocols"), func(v *errorVectorJSON) { v.Protocols = []string{} })
	add(base("unknown protocol", "protocols"), func(v *errorVectorJSON) { v.Protocols = []string{"tcp", "sctp"} })
	add(base("protocol listed twice", "protocols"), func(v *errorVectorJSON) { v.Protocols = []string{"tcp", "tcp"} })
	add(base("range starting at 0", "knock_range"), func(v *errorVectorJSON) { v.KnockRange = "0-59999" })
	add(base("inverted range", "knock_range"), func(v *errorVectorJSON) { v.KnockRange = "59999-20000" })
	add(base("range past 65535", "knock_range"), func(v *errorVectorJSON) { v.KnockRange = "20000-65536" })
	add(base("single port, not a range", "knock_range"), func(v *errorVectorJSON) { v.KnockRange = "20000" })
	add(base("fewer elements than knocks", "elements"), func(v *errorVectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols = 16, "100-114", []string{"tcp"}
	})
	add(base("every port excluded", "elements"), func(v *errorVectorJSON) {
		v.KnockRange, v.Exclude = "100-101", []uint16{100, 101}
	})
	add(base("2 knocks (33 bits)", "weak"), func(v *errorVectorJSON) { v.Knocks = 2 })
	add(base("below the 48-bit floor: 3 knocks, 65536 elements", "weak"), func(v *errorVectorJSON) {
		v.Knocks, v.KnockRange = 3, "1-32768"
	})
	add(base("below the floor by excluded ports: 3 knocks, 65536 elements", "weak"), func(v *errorVectorJSON) {
		v.Knocks, v.KnockRange, v.Exclude = 3, "1-32769", []uint16{32769, 7}
	})
	add(base("16 knocks of 16 elements (44.3 bits)", "weak"), func(v *errorVectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols = 16, "100-115", []string{"tcp"}
	})
	add(base("32762 excluded ports overflow lp(params)", "exclude"), func(v *errorVectorJSON) {
		v.KnockRange, v.Protocols, v.ExcludeRanges = "1-65535", []string{"tcp", "udp", "icmp"}, []string{"1-32762"}
	})
	for _, tm := range []string{"9223372036854775808", "9223372036854775808.5", "18446744073709551616", "100000000000000000000"} {
		add(base("unix time "+tm+" (at or after 2^63)", "time"), func(v *errorVectorJSON) { v.UnixTime = exactTime(tm) })
	}
	return vs
}

// excludedPorts expands Exclude and ExcludeRanges.
func (v errorVectorJSON) excludedPorts(t *testing.T) []uint16 {
	out := append([]uint16(nil), v.Exclude...)
	for _, r := range v.ExcludeRanges {
		lo, hi, err := ParseRange(r)
		if err != nil {
			t.Fatalf("%s: exclude_ranges: %v", v.Name, err)
		}
		for p := uint32(lo); p <= uint32(hi); p++ {
			out = append(out, uint16(p))
		}
	}
	return out
}

// refuse runs v's inputs through the textual form every front end uses
// (Fields, whose errors name the field) and New, and returns the first
// error.
func refuse(t *testing.T, v errorVectorJSON) error {
	if v.UnixTime != "" {
		if _, err := parseUnixTime(v.UnixTime); err != nil {
			return err
		}
	}
	secret, err := hex.DecodeString(v.SecretHex)
	if err != nil {
		t.Fatalf("%s: secret_hex: %v", v.Name, err)
	}
	f := Fields{Step: time.Duration(v.Period) * time.Second, Knocks: v.Knocks, KnockRange: v.KnockRange,
		Protocols: v.Protocols, Exclude: v.excludedPorts(t)}
	p, err := f.Params()
	if err != nil {
		return err
	}
	_, err = New(secret, v.ServerID, p)
	return err
}

func TestErrorVectors(t *testing.T) {
	got := errorFileJSON{Version: specVersion, Spec: "docs/spec.md (otpknock/v1)",
		Source:  "inputs and categories: derive/vectors_errors_test.go, checked against this implementation and independently by docs/reference/derive_v1.py; format: testdata/README.md",
		Vectors: errorInputs()}
	want := readVectors[errorFileJSON](t, errorVectorFile, got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s differs from the table (-want +got):\n%s", errorVectorFile, diff)
	}
	for _, v := range want.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			err := refuse(t, v)
			if fix, ok := knownDeviations[v.Name]; ok {
				if err != nil {
					t.Errorf("now refused (%v): remove it from knownDeviations", err)
				}
				t.Logf("known deviation from the spec: %s", fix)
				return
			}
			words, ok := errorWords[v.Error]
			switch {
			case !ok:
				t.Fatalf("unknown error category %q", v.Error)
			case err == nil:
				t.Fatalf("accepted, want a %s error", v.Error)
			case !containsAny(strings.ToLower(err.Error()), words):
				t.Errorf("error %q does not look like a %s error (want one of %q)", err, v.Error, words)
			}
			if v.Error == "weak" && !errors.Is(err, ErrWeak) {
				t.Errorf("weak parameters: %v does not wrap ErrWeak", err)
			}
		})
	}
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// TestFloorExact checks that Validate's 48-bit floor, computed with
// floating-point logarithms, agrees with the exact integer comparison of
// spec section 7 on both sides of the threshold, for every knock count
// and protocol count: the only places where rounding could flip it.
func TestFloorExact(t *testing.T) {
	protos := []Protocols{Protocols(TCP), Protocols(TCP | UDP), Protocols(TCP | UDP | ICMP)}
	for k := 1; k <= MaxKnocks; k++ {
		for c, ps := range protos {
			lowest := lowestValues(k, uint64(c+1))
			name := strconv.Itoa(k) + " knocks, " + strconv.Itoa(c+1) + " protocols"
			t.Run(name, func(t *testing.T) {
				if lowest > 65535 {
					if !weak(k, ps, 65535) {
						t.Errorf("65535 values accepted; exactly, no range reaches 2^48")
					}
					return
				}
				if weak(k, ps, lowest) {
					t.Errorf("%d values (N = %d) refused; exactly, it reaches 2^48", lowest, uint64(c+1)*uint64(lowest))
				}
				if lowest > 1 && !weak(k, ps, lowest-1) {
					t.Errorf("%d values (N = %d) accepted; exactly, it is below 2^48", lowest-1, uint64(c+1)*uint64(lowest-1))
				}
			})
		}
	}
}

// lowestValues is the fewest values per protocol whose element count N
// gives N (N-1) ... (N-k+1) >= 2^48, computed exactly; above 65535 when
// none does.
func lowestValues(k int, protos uint64) uint32 {
	for v := uint64(1); v <= 65535; v++ {
		if atLeast48(protos*v, k) {
			return uint32(v)
		}
	}
	return 65536
}

// atLeast48 compares the product with 2^48 in integers: each factor is
// below 2^18, and the running product is compared before it can reach
// 2^64.
func atLeast48(n uint64, k int) bool {
	if n < uint64(k) {
		return false
	}
	prod := uint64(1)
	for i := 0; i < k; i++ {
		prod *= n - uint64(i)
		if prod >= 1<<48 {
			return true
		}
	}
	return false
}

func weak(k int, ps Protocols, values uint32) bool {
	p := Params{Period: 30 * time.Second, Knocks: k, Protocols: ps, PortMin: 1, PortMax: uint16(values)}
	err := p.Validate()
	return err != nil
}

// TestExcludeLimit checks both sides of the exclude limit of spec section
// 3: MaxExcluded ports in the range encode, one more is a FieldExclude
// error, and ports outside the range do not count.
func TestExcludeLimit(t *testing.T) {
	params := func(excluded, outside int) Params {
		p := Params{Period: 30 * time.Second, Knocks: 4, Protocols: Protocols(TCP | UDP | ICMP), PortMin: 2, PortMax: 65535}
		for i := 0; i < excluded; i++ {
			p.Exclude = append(p.Exclude, uint16(2+i), uint16(2+i)) // duplicates count once
		}
		for i := 0; i < outside; i++ {
			p.Exclude = append(p.Exclude, 1)
		}
		return p
	}
	tests := []struct {
		name     string
		p        Params
		refused  bool
		msgStart string
	}{
		{"at the limit", params(MaxExcluded, 0), false, ""},
		{"at the limit, plus a port outside the range", params(MaxExcluded, 1), false, ""},
		{"one more", params(MaxExcluded+1, 0), true, "exclude: 32762 excluded ports in the knock range, at most 32761"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if !tt.refused {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				d, err := New(seq(32), "example", tt.p)
				if err != nil {
					t.Fatal(err)
				}
				msg := d.Message(1, 0, netip.Addr{})
				if got, want := len(msg), 4+2+len(Label)+8+2+len("example")+2+12+2*MaxExcluded+2; got != want {
					t.Errorf("message length %d, want %d", got, want)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != FieldExclude || !strings.HasPrefix(err.Error(), tt.msgStart) {
				t.Errorf("Validate() = %v, want a FieldExclude error starting %q", err, tt.msgStart)
			}
		})
	}
}

// TestDecodeSecretStrict checks the Base32 rules of spec section 9.3,
// each on both sides.
func TestDecodeSecretStrict(t *testing.T) {
	const s20 = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT" // seq(20): 32 characters
	const s16 = "AAAQEAYEAUDAOCAJBIFQYDIOB4"       // seq(16): 26 characters (length 2 mod 8)
	tests := []struct {
		name, in string
		want     []byte // nil: refused
	}{
		{"upper case", s20, seq(20)},
		{"lower case", strings.ToLower(s20), seq(20)},
		{"whitespace anywhere", " AAAQ\tEAYE\r\nAUDAOCAJBIFQYDIOB4IBCEQT\n", seq(20)},
		{"padding at the end", s16 + "======", seq(16)},
		{"16 bytes unpadded", s16, seq(16)},
		{"length 1 mod 8", s20 + "A", nil},
		{"length 3 mod 8", s20 + "AAA", nil},
		{"length 6 mod 8", s20 + "AAAAAA", nil},
		{"length 6 mod 8, padded", s20 + "AAAAAA==", nil},
		{"padding inside", s20[:8] + "=" + s20[8:], nil},
		{"padding before the last character", s16[:25] + "=" + s16[25:], nil},
		{"non-ASCII letter that upper-cases to ASCII", "ı" + s20[1:], nil},
		{"digit outside the alphabet", s20[:31] + "1", nil},
		{"15 bytes", EncodeSecret(seq(15)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if tt.want == nil {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != FieldSecret {
					t.Errorf("DecodeSecret(%q) = %x, %v; want a FieldSecret error", tt.in, got, err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("DecodeSecret(%q) = %x, %v; want %x", tt.in, got, err, tt.want)
			}
		})
	}
}
