package derive

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/derive_v1.json from this implementation")

const vectorFile = "../testdata/derive_v1.json"

// vectorFileJSON is the published vector file. The inputs are the table
// below; the outputs are computed by this package and checked
// independently by docs/reference/derive_v1.py.
type vectorFileJSON struct {
	Spec    string       `json:"spec"`
	Source  string       `json:"source"`
	Vectors []vectorJSON `json:"vectors"`
}

type vectorJSON struct {
	Name       string   `json:"name"`
	SecretHex  string   `json:"secret_hex"`
	ServerID   string   `json:"server_id"`
	Period     int      `json:"period"`
	Knocks     int      `json:"knocks"`
	Protocols  []string `json:"protocols"`
	KnockRange string   `json:"knock_range"`
	Exclude    []uint16 `json:"exclude"`
	Source     string   `json:"source"`
	UnixTime   *int64   `json:"unix_time,omitempty"`
	Step       string   `json:"step"`
	Message1   string   `json:"message_1_hex"`
	Sequence   []string `json:"sequence"`
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func i64(v int64) *int64 { return &v }

// vectorInputs fills in every input field; Step is set when UnixTime is
// nil.
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
	for _, t := range []int64{29, 30, 59, 60, 1111111109, 1111111111, 1234567890, 2000000000, 2147483647, 2147483669, 2147483670, 20000000000} {
		add(base("unix time "+strconv.FormatInt(t, 10)), func(v *vectorJSON) { v.UnixTime = i64(t) })
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
		v.SecretHex, v.Period, v.Knocks, v.UnixTime = hex.EncodeToString(seq(16)), 60, 16, i64(1800000000)
	})
	add(base("three knocks over every protocol and port"), func(v *vectorJSON) {
		v.Knocks, v.KnockRange, v.Protocols, v.Step = 3, "1-65535", []string{"tcp", "udp", "icmp"}, "56789012"
	})
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

// compute fills in the outputs of v from this implementation.
func compute(t *testing.T, v vectorJSON) vectorJSON {
	t.Helper()
	p := v.params(t)
	if v.UnixTime != nil {
		v.Step = strconv.FormatUint(Step(time.Unix(*v.UnixTime, 0), p.Period), 10)
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
	v.Message1 = hex.EncodeToString(d.Message(1, step, src))
	ks, err := d.Sequence(nil, step, src)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	v.Sequence = nil
	for _, k := range ks {
		v.Sequence = append(v.Sequence, k.String())
	}
	return v
}

func TestVectors(t *testing.T) {
	var got vectorFileJSON
	got.Spec = "docs/spec.md (otpknock/v1)"
	got.Source = "inputs: derive/vectors_test.go; outputs: this implementation (go test ./derive -update), checked independently by docs/reference/derive_v1.py"
	for _, in := range vectorInputs() {
		got.Vectors = append(got.Vectors, compute(t, in))
	}
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatalf("reading vectors (run go test ./derive -update to create them): %v", err)
	}
	var want vectorFileJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("%s: %v", vectorFile, err)
	}
	if len(want.Vectors) != len(got.Vectors) {
		t.Fatalf("%s has %d vectors, the table %d", vectorFile, len(want.Vectors), len(got.Vectors))
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
}
