package derive

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// KnockInputs are the inputs a packet vector and an Ed25519 vector
// share: the server and its parameters, the step, the bound source ("" when
// not source-bound), the nonce, the claim and the payload's size.
type KnockInputs struct {
	ServerID   string   `json:"server_id"`
	Period     int      `json:"period"`
	Knocks     int      `json:"knocks"`
	Protocols  []string `json:"protocols"`
	KnockRange string   `json:"knock_range"`
	Exclude    []uint16 `json:"exclude"`
	Step       string   `json:"step"`
	Bound      string   `json:"bound_source"`
	NonceHex   string   `json:"nonce_hex"`
	ClaimAddrs []string `json:"claim_addrs"`
	ClaimSrc   bool     `json:"claim_source"`
	Size       int      `json:"size"`
}

// baseKnockInputs are the inputs every packet and Ed25519 vector starts
// from, with a payload of size bytes.
func baseKnockInputs(size int) KnockInputs {
	return KnockInputs{ServerID: "example", Period: 30, Knocks: 4, Protocols: []string{"tcp", "udp", "icmp"},
		KnockRange: "20000-59999", Exclude: []uint16{}, Step: "59000000",
		NonceHex: hex.EncodeToString(bytes.Repeat([]byte{0xa5}, NonceSize)), ClaimAddrs: []string{"198.18.0.2"}, Size: size}
}

// decode returns the parameters, step, nonce, claim and bound source of
// the vector name.
func (in KnockInputs) decode(t *testing.T, name string) (Params, uint64, []byte, Claim, netip.Addr) {
	t.Helper()
	f := Fields{Step: time.Duration(in.Period) * time.Second, Knocks: in.Knocks, KnockRange: in.KnockRange, Protocols: in.Protocols, Exclude: in.Exclude}
	p, err := f.Params()
	if err != nil {
		t.Fatalf("%s: params: %v", name, err)
	}
	step, err := strconv.ParseUint(in.Step, 10, 64)
	if err != nil {
		t.Fatalf("%s: step: %v", name, err)
	}
	nonce, _ := hex.DecodeString(in.NonceHex)
	c := Claim{Source: in.ClaimSrc}
	for _, a := range in.ClaimAddrs {
		c.Addrs = append(c.Addrs, netip.MustParseAddr(a))
	}
	var bound netip.Addr
	if in.Bound != "" {
		bound = netip.MustParseAddr(in.Bound)
	}
	return p, step, nonce, c, bound
}

// openErrorName is the name a vector file gives an error of Open: tag
// names the failed tag ("tag" of a packet knock, "check" of an Ed25519
// one).
func openErrorName(err error, tag string) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrPayloadSize):
		return "size"
	case errors.Is(err, ErrTag):
		return tag
	case errors.Is(err, ErrSignature):
		return "signature"
	case errors.Is(err, ErrClaim):
		return "claim"
	}
	return err.Error()
}

// checkVectors checks a vector file read back: its version is the
// spec's, and its vectors are those this implementation computed.
func checkVectors[V any](t *testing.T, path string, version int, file, got []V) {
	t.Helper()
	if version != specVersion {
		t.Errorf("%s: version %d, want %d", path, version, specVersion)
	}
	if diff := gocmp.Diff(file, got); diff != "" {
		t.Errorf("%s differs from this implementation (-file +computed):\n%s", path, diff)
	}
}
