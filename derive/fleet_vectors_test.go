package derive

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strconv"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

const fleetVectorFile = "../testdata/fleet_v1.json"

// fleetFileJSON is the published vector file of fleet member keys (spec
// section 14), checked independently by docs/reference/fleet_v1.py.
type fleetFileJSON struct {
	Version int               `json:"version"`
	Spec    string            `json:"spec"`
	Source  string            `json:"source"`
	Vectors []fleetVectorJSON `json:"vectors"`
}

// fleetVectorJSON is one vector: an enrollment secret, a fleet and the
// name a client knocks; the identity, HKDF's intermediate values, the
// member key, and the sequence that key derives at Step.
type fleetVectorJSON struct {
	Name       string   `json:"name"`
	SecretHex  string   `json:"secret_hex"`
	Fleet      string   `json:"fleet"`
	Host       string   `json:"host"`
	Period     int      `json:"period"`
	Knocks     int      `json:"knocks"`
	Protocols  []string `json:"protocols"`
	KnockRange string   `json:"knock_range"`
	Exclude    []uint16 `json:"exclude"`
	Step       string   `json:"step"`

	Identity string   `json:"identity"`
	InfoHex  string   `json:"info_hex"`
	PRKHex   string   `json:"prk_hex"`
	KeyHex   string   `json:"member_key_hex"`
	Sequence []string `json:"sequence"`
	// SigElement is, for an ed25519 user's vector, the element of Step
	// that the member key derives as the member's locator secret
	// (sections 11.11 and 14.5).
	SigElement string `json:"ed25519_element,omitempty"`
}

type fleetInput struct {
	name, secretHex, fleet, host string
	f                            Fields
	step                         uint64
	sig                          bool // an ed25519 user: the member key is a locator
}

func fleetVectorInputs() []fleetInput {
	k32 := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	k16 := "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	def := DefaultFields()
	pkt := def
	pkt.Protocols = []string{"udp", "icmp"}
	pkt.Knocks = 3
	pkt.Exclude = []uint16{51820, 22, 51820}
	return []fleetInput{
		{"one member", k32, "acme", "bastion1.example.org", def, 0, false},
		{"another member, same enrollment", k32, "acme", "bastion2.example.org", def, 0, false},
		{"same member name, another fleet", k32, "globex", "bastion1.example.org", def, 0, false},
		{"a pool's shared name", k32, "acme", "vpn.example.org", def, 56666666, false},
		{"the name knocked in upper case with a trailing dot", k32, "acme", "VPN.Example.ORG.", def, 56666666, false},
		{"a 16-byte enrollment secret", k16, "acme", "bastion1.example.org", def, 56666666, false},
		{"an IPv4 literal", k32, "acme", "198.18.0.10", def, 1, false},
		{"other parameters", k32, "acme", "bastion1.example.org", pkt, 18446744073709551615, false},
		{"a long fleet id", k32, "fleet-of-the-north.region-7.example", "a", def, 42, false},
		{"an ed25519 user's locator for a pool", k32, "acme", "vpn.example.org", pkt, 56666666, true},
	}
}

func computeFleet(t *testing.T, in fleetInput) fleetVectorJSON {
	t.Helper()
	secret, err := hex.DecodeString(in.secretHex)
	if err != nil {
		t.Fatal(err)
	}
	id := FleetIdentity(in.host)
	key, err := MemberKey(secret, in.fleet, id)
	if err != nil {
		t.Fatalf("%s: %v", in.name, err)
	}
	p, err := in.f.Params()
	if err != nil {
		t.Fatalf("%s: %v", in.name, err)
	}
	seq, err := Sequence(key, id, p, in.step, netip.Addr{})
	if err != nil {
		t.Fatalf("%s: %v", in.name, err)
	}
	mac := hmac.New(sha256.New, []byte(FleetLabel))
	mac.Write(secret)
	var sigElement string
	if in.sig {
		sd, err := NewSigPacket(key, nil, id, p)
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		k, err := sd.Knock(in.step)
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		sigElement = k.String()
	}
	return fleetVectorJSON{
		Name: in.name, SecretHex: in.secretHex, Fleet: in.fleet, Host: in.host,
		Period: int(in.f.Step / time.Second), Knocks: in.f.Knocks, Protocols: in.f.Protocols,
		KnockRange: in.f.KnockRange, Exclude: in.f.Exclude, Step: strconv.FormatUint(in.step, 10),
		Identity: id, InfoHex: hex.EncodeToString(FleetInfo(in.fleet, id)),
		PRKHex: hex.EncodeToString(mac.Sum(nil)), KeyHex: hex.EncodeToString(key),
		Sequence: fleetKnockStrings(seq), SigElement: sigElement,
	}
}

func fleetKnockStrings(ks []Knock) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

func TestFleetVectors(t *testing.T) {
	var got []fleetVectorJSON
	for _, in := range fleetVectorInputs() {
		got = append(got, computeFleet(t, in))
	}
	file := readVectors(t, fleetVectorFile, fleetFileJSON{
		Version: specVersion,
		Spec:    "docs/spec.md, section 14 (fleet member keys, otpknock/v1/fleet)",
		Source:  "inputs: derive/fleet_vectors_test.go; outputs: this implementation (go test ./derive -run TestFleetVectors -update), checked independently by docs/reference/fleet_v1.py",
		Vectors: got,
	})
	checkVectors(t, fleetVectorFile, file.Version, file.Vectors, got)
}

// TestMemberKeyIsolation: a member's key knocks its own identity only. A
// key of one member, used with another member's identity (or with its own
// identity in another fleet), derives none of the knocks that member
// expects, over many steps; and the keys of distinct identities differ.
func TestMemberKeyIsolation(t *testing.T) {
	secret := make([]byte, 32)
	p := DefaultParams()
	members := []struct{ fleet, id string }{
		{"acme", "bastion1.example.org"}, {"acme", "bastion2.example.org"},
		{"acme", "vpn.example.org"}, {"globex", "bastion1.example.org"},
	}
	keys := map[string][]byte{}
	for _, m := range members {
		k, err := MemberKey(secret, m.fleet, m.id)
		if err != nil {
			t.Fatal(err)
		}
		keys[m.fleet+"/"+m.id] = k
	}
	for _, thief := range members {
		for _, victim := range members {
			if thief == victim {
				continue
			}
			t.Run(thief.fleet+"/"+thief.id+" -> "+victim.fleet+"/"+victim.id, func(t *testing.T) {
				stolen, real := keys[thief.fleet+"/"+thief.id], keys[victim.fleet+"/"+victim.id]
				if hmac.Equal(stolen, real) {
					t.Fatal("two identities share a member key")
				}
				for step := uint64(1000); step < 1050; step++ {
					want, _ := Sequence(real, victim.id, p, step, netip.Addr{})
					forged, _ := Sequence(stolen, victim.id, p, step, netip.Addr{})
					if gocmp.Equal(want, forged) {
						t.Fatalf("step %d: the stolen key derives the victim's sequence %v", step, want)
					}
				}
			})
		}
	}
}

func TestMemberKeyRefuses(t *testing.T) {
	long := string(make([]byte, 256))
	for _, c := range []struct {
		name, fleet, id string
		secret          []byte
	}{
		{"short secret", "acme", "a", make([]byte, 15)},
		{"empty identity", "acme", "", make([]byte, 16)},
		{"empty fleet", "", "a", make([]byte, 16)},
		{"long fleet", long, "a", make([]byte, 16)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if k, err := MemberKey(c.secret, c.fleet, c.id); err == nil {
				t.Fatalf("MemberKey = %x, want an error", k)
			}
		})
	}
}
