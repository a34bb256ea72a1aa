package derive

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/derive_v1.json and derive_v1_errors.json from this implementation")

const vectorFile = "../testdata/derive_v1.json"

// specVersion is the protocol version the vector files carry (spec
// section 9.5); provision.TestSpecVersion compares it, through the
// files, with the spec's title and with provision.Version.
const specVersion = 1

// vectorFileJSON is the published vector file. The inputs are the table
// below; the outputs are computed by this package and checked
// independently by docs/reference/derive_v1.py. testdata/README.md
// documents the format.
type vectorFileJSON struct {
	Version int          `json:"version"`
	Spec    string       `json:"spec"`
	Source  string       `json:"source"`
	Vectors []vectorJSON `json:"vectors"`
}

type vectorJSON struct {
	Name       string    `json:"name"`
	SecretHex  string    `json:"secret_hex"`
	ServerID   string    `json:"server_id"`
	Period     int       `json:"period"`
	Knocks     int       `json:"knocks"`
	Protocols  []string  `json:"protocols"`
	KnockRange string    `json:"knock_range"`
	Exclude    []uint16  `json:"exclude"`
	Source     string    `json:"source"`
	UnixTime   exactTime `json:"unix_time,omitempty"`
	// Open is informational: services inside the range that the
	// vector's exclude does not list. They never enter E (spec 1.1).
	Open      []string   `json:"open,omitempty"`
	Step      string     `json:"step"`
	Message1  string     `json:"message_1_hex"`
	Elements  uint32     `json:"elements"`
	Limit     uint64     `json:"limit"`
	BlocksHex []string   `json:"blocks_hex"`
	Draws     []drawJSON `json:"draws"`
	// The bound stream (spec section 6.1), for a vector with a source:
	// BM(1), its blocks and its draws, which start after the first knock
	// of the unbound stream above.
	BoundMessage1 string     `json:"bound_message_1_hex,omitempty"`
	BoundBlocks   []string   `json:"bound_blocks_hex,omitempty"`
	BoundDraws    []drawJSON `json:"bound_draws,omitempty"`
	Sequence      []string   `json:"sequence"`
}

// drawJSON is one 32-bit draw of the stream and what sampling did with
// it: "knock" (appended), "duplicate" (its element was already drawn) or
// "rejected" (x >= limit, no element).
type drawJSON struct {
	X       uint32  `json:"x"`
	Element *uint32 `json:"element,omitempty"`
	Outcome string  `json:"outcome"`
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// vectorInputs fills in every input field; Step is set when UnixTime is
// empty.
func vectorInputs() []vectorJSON {
	base := func(name string) vectorJSON {
		return vectorJSON{Name: name, SecretHex: hex.EncodeToString(seq(32)), ServerID: "example",
			Period: 30, Knocks: 4, Protocols: []string{"tcp", "udp"}, KnockRange: "20000-59999",
			Exclude: []uint16{}, Step: "0"}
	}
	var vs []vectorJSON
	add := func(v vectorJSON, edit func(*vectorJSON)) {
		edit(&v)
		vs = append(vs, v)
	}
	add(base("default step 0"), func(v *vectorJSON) {})
	add(base("default step 1"), func(v *vectorJSON) { v.Step = "1" })
	for _, t := range []string{"29", "30", "59", "60", "1111111109", "1111111111", "1234567890", "2000000000", "2147483647", "2147483669", "2147483670", "20000000000"} {
		add(base("unix time "+t), func(v *vectorJSON) { v.UnixTime = exactTime(t) })
	}
	for _, s := range []string{"4294967295", "4294967296", "9223372036854775808", "18446744073709551615"} {
		add(base("64-bit step "+s), func(v *vectorJSON) { v.Step = s })
	}
	for _, ps := range [][]string{{"tcp"}, {"udp"}, {"icmp"}, {"tcp", "icmp"}, {"udp", "icmp"}, {"tcp", "udp", "icmp"}} {
		add(base("protocols "+joinComma(ps)), func(v *vectorJSON) { v.Protocols = ps; v.Step = "56789012" })
	}
	add(base("other server id"), func(v *vectorJSON) { v.ServerID = "example-2"; v.Step = "56789012" })
	add(base("bound IPv4 source"), func(v *vectorJSON) { v.Source = "198.18.0.2"; v.Step = "56789012" })
	add(base("bound IPv4-mapped source (same as IPv4)"), func(v *vectorJSON) { v.Source = "::ffff:198.18.0.2"; v.Step = "56789012" })
	add(base("bound IPv6 source"), func(v *vectorJSON) { v.Source = "2001:2::2"; v.Step = "56789012" })
	add(base("excluded ports in a small range"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols = 8, "1000-1099", []string{"tcp", "udp", "icmp"}
		v.Exclude, v.Step = []uint16{1099, 1000, 1001, 1050, 22, 1050}, "56789012"
	})
	add(base("excluded ports, default range"), func(v *vectorJSON) { v.Exclude = []uint16{20000, 33333, 59999}; v.Step = "56789012" })
	add(base("minimum secret, 60 s step, 16 knocks"), func(v *vectorJSON) {
		v.SecretHex, v.Period, v.Knocks, v.UnixTime = hex.EncodeToString(seq(16)), 60, 16, "1800000000"
	})
	add(base("three knocks over every protocol and port"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols, v.Step = 3, "1-65535", []string{"tcp", "udp", "icmp"}, "56789012"
	})
	return append(vs, edgeInputs(base)...)
}

// edgeInputs are the vectors that reach each path of the sampling and
// each edge of the time and source rules. The steps of the first two
// were found by searching: the first step from 56789012 whose sequence
// rejects a draw, and the first with a duplicate; so was that of the
// bound draw that repeats the first knock.
func edgeInputs(base func(string) vectorJSON) []vectorJSON {
	var vs []vectorJSON
	add := func(v vectorJSON, edit func(*vectorJSON)) {
		edit(&v)
		vs = append(vs, v)
	}
	add(base("a rejected draw (x >= limit), three blocks"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols, v.Step = 16, "4-65535", []string{"tcp", "udp", "icmp"}, "56793923"
	})
	add(base("a duplicate element, second block"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols = 8, "1000-1099", []string{"tcp", "udp", "icmp"}
		v.Exclude, v.Step = []uint16{1099, 1000, 1001, 1050, 22, 1050}, "56789014"
	})
	add(base("secret longer than the HMAC block (100 bytes)"), func(v *vectorJSON) {
		v.SecretHex, v.Step = hex.EncodeToString(seq(100)), "56789012"
	})
	add(base("at the 48-bit floor: 3 knocks, 65538 elements"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Step = 3, "1-32769", "56789012"
	})
	add(base("3600 s step"), func(v *vectorJSON) { v.Period, v.UnixTime = 3600, "1800000000" })
	add(base("1 s step"), func(v *vectorJSON) { v.Period, v.UnixTime = 1, "1800000000" })
	for _, t := range []string{"-1", "-0.5", "-9223372036854775808", "29.999999999", "59.999999999", "1111111109.999999999", "9223372036854775807"} {
		add(base("unix time "+t), func(v *vectorJSON) { v.UnixTime = exactTime(t) })
	}
	add(base("unix time just below 2^63"), func(v *vectorJSON) { v.Period, v.UnixTime = 1, "9223372036854775807.999999999" })
	add(base("open services inside the range are not excluded"), func(v *vectorJSON) {
		v.Open, v.Exclude, v.Step = []string{"tcp/22", "udp/33548", "tcp/40000"}, []uint16{40000}, "0"
	})
	add(base("largest time, 1 s step"), func(v *vectorJSON) { v.Period, v.UnixTime = 1, "9223372036854775807" })
	add(base("bound source, a bound draw repeats the first knock"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols, v.Source = 8, "1000-1099", []string{"tcp", "udp", "icmp"}, "198.18.0.2"
		v.Exclude, v.Step = []uint16{1099, 1000, 1001, 1050, 22, 1050}, "56789014"
	})
	add(base("bound link-local IPv6 source"), func(v *vectorJSON) { v.Source = "fe80::1"; v.Step = "56789012" })
	add(base("bound IPv6 source with a zone (zone dropped)"), func(v *vectorJSON) { v.Source = "fe80::1%eth0"; v.Step = "56789012" })
	return vs
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func (v vectorJSON) params(t *testing.T) Params {
	t.Helper()
	ps, err := ParseProtocols(v.Protocols)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, err := ParseRange(v.KnockRange)
	if err != nil {
		t.Fatal(err)
	}
	return Params{Period: time.Duration(v.Period) * time.Second, Knocks: v.Knocks,
		Protocols: ps, PortMin: lo, PortMax: hi, Exclude: v.Exclude}
}

// exactTime is a vector's unix_time: an exact decimal, written as a JSON
// string as step is, since stock JSON parsers round a number with nine
// fraction digits to a binary float. It is read from a string or, as
// files written before it was a string hold it, from a number token.
type exactTime string

// UnmarshalJSON reads a JSON string or a JSON number, keeping its digits.
func (e *exactTime) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		s = string(n)
	}
	*e = exactTime(s)
	return nil
}

var exactTimeForm = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?$`)

// parseUnixTime parses a decimal number of seconds exactly (up to nine
// fraction digits), as spec section 2 asks: never through a binary
// float. A time at or after 2^63 s (or before -2^63 s) is an error of
// category time (spec section 8): otpknock's clock, a time.Time, holds
// no such time.
func parseUnixTime(e exactTime) (time.Time, error) {
	s := string(e)
	if !exactTimeForm.MatchString(s) {
		return time.Time{}, fmt.Errorf("unix_time %q: not a decimal with at most 9 fraction digits", s)
	}
	neg := s[0] == '-'
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	sec, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || (!neg && sec > 1<<63-1) || (neg && sec > 1<<63) || (neg && sec == 1<<63 && strings.Trim(frac, "0") != "") {
		return time.Time{}, fmt.Errorf("unix_time %s: time outside -2^63 to 2^63 seconds", s)
	}
	var nsec int64
	if frac != "" {
		nsec, _ = strconv.ParseInt(frac+"000000000"[len(frac):], 10, 64)
	}
	if !neg {
		return time.Unix(int64(sec), nsec), nil
	}
	// -sec wraps in uint64, so -2^63 converts exactly; time.Unix
	// normalises the negative nsec into [0, 1e9).
	return time.Unix(int64(-sec), -nsec), nil
}

// unixTime is parseUnixTime for a vector that must have a valid time.
func unixTime(t *testing.T, e exactTime) time.Time {
	t.Helper()
	tm, err := parseUnixTime(e)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// compute fills in the outputs of v from this implementation.
func compute(t *testing.T, v vectorJSON) vectorJSON {
	t.Helper()
	p := v.params(t)
	if v.UnixTime != "" {
		v.Step = strconv.FormatUint(Step(unixTime(t, v.UnixTime), p.Period), 10)
	}
	step, err := strconv.ParseUint(v.Step, 10, 64)
	if err != nil {
		t.Fatalf("%s: step: %v", v.Name, err)
	}
	var src netip.Addr
	if v.Source != "" {
		src = netip.MustParseAddr(v.Source)
	}
	secret, _ := hex.DecodeString(v.SecretHex)
	d, err := New(secret, v.ServerID, p)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	v.Message1 = hex.EncodeToString(d.Message(1, step, netip.Addr{}))
	v.BoundMessage1 = ""
	if src.IsValid() {
		v.BoundMessage1 = hex.EncodeToString(d.Message(1, step, src))
	}
	ks, err := d.Sequence(nil, step, src)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	checkOpenMatters(t, v, secret, p, step, ks)
	v.Sequence = nil
	for _, k := range ks {
		v.Sequence = append(v.Sequence, k.String())
	}
	v.Elements = p.Elements()
	v.Limit = (1 << 32) / uint64(v.Elements) * uint64(v.Elements)
	want := p.Knocks
	if src.IsValid() {
		want = 1
	}
	var picked []uint32
	v.BlocksHex, v.Draws, picked = trace(d.Message, secret, p, step, netip.Addr{}, nil, want)
	v.BoundBlocks, v.BoundDraws = nil, nil
	if src.IsValid() {
		v.BoundBlocks, v.BoundDraws, picked = trace(d.Message, secret, p, step, src, picked, p.Knocks)
	}
	traced := knockStrings(p, picked)
	if !cmp.Equal(traced, v.Sequence) {
		t.Errorf("%s: the trace's sequence %v is not Sequence's %v", v.Name, traced, v.Sequence)
	}
	return v
}

// checkOpenMatters asserts that a vector with open services inside the
// range tells the two readings of spec section 1.1 apart: had its open
// ports been added to E, its sequence would differ.
func checkOpenMatters(t *testing.T, v vectorJSON, secret []byte, p Params, step uint64, ks []Knock) {
	t.Helper()
	if len(v.Open) == 0 {
		return
	}
	wrong := p
	wrong.Exclude = slices.Clone(p.Exclude)
	for _, o := range v.Open {
		k, err := ParseService(o)
		if err != nil {
			t.Fatalf("%s: open: %v", v.Name, err)
		}
		wrong.Exclude = append(wrong.Exclude, k.Port)
	}
	other, err := Sequence(secret, v.ServerID, wrong, step, netip.Addr{})
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	if slices.Equal(other, ks) {
		t.Errorf("%s: adding open to exclude gives the same sequence; the vector separates nothing", v.Name)
	}
}

// trace replays spec sections 5, 6 and 6.1 over the messages this
// package builds (message(i, step, src): M(i) for the zero src, BM(i)
// otherwise), recording the blocks and draws the vectors publish: it
// draws until picked (the elements drawn so far) holds want. compute
// checks that it ends in the sequence Sequence returned.
func trace(message func(uint32, uint64, netip.Addr) []byte, secret []byte, p Params, step uint64, src netip.Addr,
	picked []uint32, want int) ([]string, []drawJSON, []uint32) {
	n := p.Elements()
	limit := (1 << 32) / uint64(n) * uint64(n)
	var blocks []string
	var draws []drawJSON
	for i := uint32(1); i <= 255; i++ {
		mac := hmac.New(sha256.New, secret)
		mac.Write(message(i, step, src))
		sum := mac.Sum(nil)
		blocks = append(blocks, hex.EncodeToString(sum))
		for w := 0; w < len(sum); w += 4 {
			x := binary.BigEndian.Uint32(sum[w:])
			if uint64(x) >= limit {
				draws = append(draws, drawJSON{X: x, Outcome: "rejected"})
				continue
			}
			e := x % n
			outcome := "knock"
			if slices.Contains(picked, e) {
				outcome = "duplicate"
			}
			draws = append(draws, drawJSON{X: x, Element: &e, Outcome: outcome})
			if outcome == "duplicate" {
				continue
			}
			picked = append(picked, e)
			if len(picked) == want {
				return blocks, draws, picked
			}
		}
	}
	return blocks, draws, nil
}

// knockStrings are the knocks of elements, as the vectors write them.
func knockStrings(p Params, elements []uint32) []string {
	values := usableValues(p)
	protos := p.Protocols.List()
	var out []string
	for _, e := range elements {
		nv := uint32(len(values))
		out = append(out, Knock{Proto: protos[e/nv], Port: values[e%nv]}.String())
	}
	return out
}

// usableValues lists lo..hi without the excluded ports, ascending.
func usableValues(p Params) []uint16 {
	excl := map[uint16]bool{}
	for _, e := range FieldsOf(p).Exclude {
		excl[e] = true
	}
	var out []uint16
	for v := uint32(p.PortMin); v <= uint32(p.PortMax); v++ {
		if !excl[uint16(v)] {
			out = append(out, uint16(v))
		}
	}
	return out
}

func TestVectors(t *testing.T) {
	var got vectorFileJSON
	got.Version, got.Spec = specVersion, "docs/spec.md (otpknock/v1)"
	got.Source = "inputs: derive/vectors_test.go; outputs: this implementation (go test ./derive -update), checked independently by docs/reference/derive_v1.py; format: testdata/README.md"
	for _, in := range vectorInputs() {
		got.Vectors = append(got.Vectors, compute(t, in))
	}
	want := readVectors[vectorFileJSON](t, vectorFile, got)
	if len(want.Vectors) != len(got.Vectors) {
		t.Fatalf("%s has %d vectors, the table %d", vectorFile, len(want.Vectors), len(got.Vectors))
	}
	if want.Version != got.Version {
		t.Errorf("%s: version %d, want %d", vectorFile, want.Version, got.Version)
	}
	if diff := cmp.Diff(want.Source, got.Source); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
	for i, w := range want.Vectors {
		t.Run(w.Name, func(t *testing.T) {
			// Recompute from the file's own inputs, so the file is checked
			// as published, not only against the table.
			if diff := cmp.Diff(w, compute(t, w)); diff != "" {
				t.Errorf("vector (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(w, got.Vectors[i]); diff != "" {
				t.Errorf("file differs from the table (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("coverage", func(t *testing.T) { checkCoverage(t, want.Vectors) })
}

// checkCoverage asserts that the vectors reach every path of the sampling
// and every rule of the time step, so a table edit cannot lose one.
func checkCoverage(t *testing.T, vs []vectorJSON) {
	seen := map[string]bool{}
	for _, v := range vs {
		for _, d := range v.Draws {
			seen[d.Outcome] = true
		}
		seen["blocks "+strconv.Itoa(len(v.BlocksHex))] = true
		if len(v.BoundDraws) > 0 {
			seen["bound stream"] = true
			first := *v.Draws[len(v.Draws)-1].Element
			for _, d := range v.BoundDraws {
				if d.Outcome == "duplicate" && *d.Element == first {
					seen["a bound draw repeating the first knock"] = true
				}
			}
		}
		if u := string(v.UnixTime); u != "" {
			switch {
			case u[0] == '-':
				seen["negative time"] = true
			case strings.Contains(u, "."):
				seen["fractional time"] = true
			}
		}
		if len(v.SecretHex) > 2*64 {
			seen["secret longer than the HMAC block"] = true
		}
	}
	for _, want := range []string{"knock", "duplicate", "rejected", "blocks 1", "blocks 2", "blocks 3", "bound stream", "a bound draw repeating the first knock",
		"negative time", "fractional time", "secret longer than the HMAC block"} {
		if !seen[want] {
			t.Errorf("no vector has %s", want)
		}
	}
}

// readVectors rewrites path from got under -update, then reads it back
// strictly (unknown fields are errors).
func readVectors[T any](t *testing.T, path string, got T) T {
	t.Helper()
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading vectors (run go test ./derive -update to create them): %v", err)
	}
	var want T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return want
}

// TestExactTime checks that unix_time reads from a string and, as older
// vector files wrote it, from a number, keeping every digit either way,
// and that it is written as a string.
func TestExactTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"1111111109.999999999"`, "1111111109.999999999"},
		{`1111111109.999999999`, "1111111109.999999999"},
		{`"-0.5"`, "-0.5"},
		{`-9223372036854775808`, "-9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got exactTime
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("read (-want +got):\n%s", diff)
			}
			out, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strconv.Quote(tt.want), string(out)); diff != "" {
				t.Errorf("written (-want +got):\n%s", diff)
			}
		})
	}
}
