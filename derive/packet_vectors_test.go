package derive

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net/netip"
	"slices"
	"testing"
	"time"
)

const packetVectorFile = "../testdata/packet_v1.json"

// packetFileJSON is the published vector file of packet knocks. The inputs
// are the table below; the outputs are computed by this package and
// checked independently by docs/reference/packet_v1.py.
type packetFileJSON struct {
	Version int                `json:"version"`
	Spec    string             `json:"spec"`
	Source  string             `json:"source"`
	Vectors []packetVectorJSON `json:"vectors"`
}

// packetVectorJSON is one vector. A vector with Open set is a payload
// given to the server: OpenError is "" when it verifies (and Claim is what
// it claims), else "size", "tag" or "claim".
type packetVectorJSON struct {
	Name      string `json:"name"`
	SecretHex string `json:"secret_hex"`
	KnockInputs

	// Outputs of sealing.
	PortMessage1 string `json:"port_message_1_hex"`
	PortBlock1   string `json:"port_block_1_hex"` // HMAC of port message 1: the first draws
	Element      string `json:"element"`
	PlainHex     string `json:"plaintext_hex"`
	EncMessage1  string `json:"enc_message_1_hex"` // keystream message, counter 1
	KeystreamHex string `json:"keystream_hex"`     // as long as the sealed claim
	TagMessage   string `json:"tag_message_hex"`
	TagHex       string `json:"tag_hex"`
	PayloadHex   string `json:"payload_hex"`

	// A payload given to the server (a tampered copy), and the outcome.
	OpenHex   string `json:"open_hex,omitempty"`
	OpenError string `json:"open_error,omitempty"`
}

func packetVectorInputs() []packetVectorJSON {
	base := func(name string) packetVectorJSON {
		return packetVectorJSON{Name: name, SecretHex: hex.EncodeToString(seq(32)), KnockInputs: baseKnockInputs(64)}
	}
	var vs []packetVectorJSON
	add := func(v packetVectorJSON, edit func(*packetVectorJSON)) {
		edit(&v)
		vs = append(vs, v)
	}
	add(base("ipv4"), func(v *packetVectorJSON) {})
	add(base("ipv6"), func(v *packetVectorJSON) { v.ClaimAddrs = []string{"2001:2::2"} })
	add(base("dual stack"), func(v *packetVectorJSON) { v.ClaimAddrs = []string{"198.18.0.2", "2001:2::2"}; v.Size = 128 })
	add(base("behind NAT"), func(v *packetVectorJSON) { v.ClaimAddrs = []string{}; v.ClaimSrc = true; v.Size = MinPayload })
	add(base("NAT and global ipv6"), func(v *packetVectorJSON) { v.ClaimAddrs = []string{"2001:2::2"}; v.ClaimSrc = true; v.Size = 100 })
	add(base("bound ipv4"), func(v *packetVectorJSON) { v.Bound = "198.18.0.2" })
	add(base("bound ipv6"), func(v *packetVectorJSON) { v.ClaimAddrs = []string{"2001:2::2"}; v.Bound = "2001:2::2"; v.Size = 90 })
	add(base("udp only"), func(v *packetVectorJSON) { v.Protocols = []string{"udp"} })
	add(base("icmp only"), func(v *packetVectorJSON) { v.Protocols = []string{"icmp"}; v.Step = "59000001" })
	add(base("tcp and icmp, excluded ports"), func(v *packetVectorJSON) {
		v.Protocols = []string{"tcp", "icmp"}
		v.KnockRange = "1000-1099"
		v.Knocks = 8
		v.Exclude = []uint16{1000, 1050, 1050, 5}
	})
	add(base("largest payload, four addresses"), func(v *packetVectorJSON) {
		v.ClaimAddrs = []string{"198.18.0.2", "2001:2::2", "198.18.0.3", "2001:2::3"}
		v.Size = MaxPayload
	})
	add(base("64-bit step"), func(v *packetVectorJSON) { v.Step = "18446744073709551615" })
	add(base("other server id"), func(v *packetVectorJSON) { v.ServerID = "example-2" })
	// The step was searched for: the first from 59000000 whose first
	// draw is rejected (x >= limit, N' = 2 * 65281 leaves the most).
	add(base("element: the first draw rejected"), func(v *packetVectorJSON) { v.KnockRange, v.Step = "1-65281", "59050300" })
	// Payloads the server must refuse.
	add(base("refused: tag bit flipped"), func(v *packetVectorJSON) { v.OpenError = "tag" })
	add(base("refused: ciphertext bit flipped"), func(v *packetVectorJSON) { v.OpenError = "tag" })
	add(base("refused: truncated"), func(v *packetVectorJSON) { v.OpenError = "tag" })
	add(base("refused: too short"), func(v *packetVectorJSON) { v.OpenError = "size" })
	for name := range claimTampers {
		add(base(name), func(v *packetVectorJSON) { v.OpenError = "claim" })
	}
	slices.SortStableFunc(vs, func(a, b packetVectorJSON) int {
		return cmp.Compare(claimOrder(a.Name), claimOrder(b.Name))
	})
	return vs
}

// claimTampers are the non-canonical claims of spec section 11.5 check
// 3, each sealed under a valid tag: the edit turns the vector's
// plaintext (flags 01, 04 c6120002, 27 zero bytes) into the refused one.
var claimTampers = map[string]func(pt []byte){
	"refused claim: flags bit 4 set": func(pt []byte) { pt[0] |= 0x10 },
	"refused claim: flags bit 7 set": func(pt []byte) { pt[0] |= 0x80 },
	"refused claim: count 5":         func(pt []byte) { fillClaim(pt, 0x05, 5, false) },
	"refused claim: count 7":         func(pt []byte) { fillClaim(pt, 0x07, 5, false) },
	"refused claim: family 5":        func(pt []byte) { pt[1] = 5 },
	"refused claim: family 0":        func(pt []byte) { pt[1] = 0 },
	"refused claim: IPv4-mapped under family 6": func(pt []byte) {
		clear(pt)
		copy(pt, []byte{0x01, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 2})
	},
	"refused claim: an address cut by the plaintext's end":   func(pt []byte) { fillClaim(pt, 0x02, 2, true) },
	"refused claim: a non-zero byte after the last address":  func(pt []byte) { pt[len(pt)-1] = 0x01 },
	"refused claim: a non-zero byte right after the address": func(pt []byte) { pt[6] = 0x80 },
}

// fillClaim writes flags and then n addresses (IPv6 2001:2::N when v6,
// else IPv4 198.18.0.N) for as long as they fit, then zeros.
func fillClaim(pt []byte, flags byte, n int, v6 bool) {
	clear(pt)
	pt[0] = flags
	off := 1
	for i := range n {
		a := []byte{4, 198, 18, 0, byte(2 + i)}
		if v6 {
			a = append([]byte{6, 0x20, 0x01, 0, 2}, make([]byte, 12)...)
			a[16] = byte(2 + i)
		}
		off += copy(pt[off:], a)
	}
}

// claimOrder keeps the claim refusals last, in name order, so the file
// does not depend on map order.
func claimOrder(name string) string {
	if _, ok := claimTampers[name]; ok {
		return "2 " + name
	}
	return "1"
}

// resealClaim returns payload with its claim decrypted, edited and sealed
// again under a valid tag: a payload only check 3 can refuse.
func resealClaim(pd *PacketDeriver, payload []byte, step uint64, k Knock, bound netip.Addr, edit func([]byte)) []byte {
	b := bytes.Clone(payload)
	nonce, body := b[:NonceSize], b[NonceSize:len(b)-TagSize]
	pd.xorKeystream(body, step, nonce)
	edit(body)
	pd.xorKeystream(body, step, nonce)
	pd.sumTag(step, k, nonce, body, bound)
	copy(b[len(b)-TagSize:], pd.sum[:TagSize])
	return b
}

// tamper returns the payload a refusal vector gives the server.
func tamper(name string, payload []byte) []byte {
	b := bytes.Clone(payload)
	switch name {
	case "refused: tag bit flipped":
		b[len(b)-1] ^= 0x01
	case "refused: ciphertext bit flipped":
		b[NonceSize] ^= 0x80
	case "refused: truncated":
		b = b[:len(b)-1]
	case "refused: too short":
		b = b[:MinPayload-1]
	}
	return b
}

func (v packetVectorJSON) inputs(t *testing.T) (*PacketDeriver, uint64, []byte, Claim, netip.Addr) {
	t.Helper()
	p, step, nonce, c, bound := v.decode(t, v.Name)
	secret, _ := hex.DecodeString(v.SecretHex)
	pd, err := NewPacket(secret, v.ServerID, p)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	return pd, step, nonce, c, bound
}

// computePacket fills in the outputs of v from this implementation.
func computePacket(t *testing.T, v packetVectorJSON) packetVectorJSON {
	pd, step, nonce, c, bound := v.inputs(t)
	k, err := pd.Knock(step)
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	payload, err := pd.Seal(nil, step, nonce, c, bound, v.Size)
	if err != nil {
		t.Fatalf("%s: seal: %v", v.Name, err)
	}
	v.PortMessage1 = hex.EncodeToString(pd.port.Message(1, step, netip.Addr{}))
	v.PortBlock1 = hexMAC(pd.mac, v.PortMessage1)
	v.Element = k.String()
	v.PayloadHex = hex.EncodeToString(payload)
	body := payload[NonceSize : len(payload)-TagSize]
	pt := bytes.Clone(body)
	pd.xorKeystream(pt, step, nonce)
	v.PlainHex = hex.EncodeToString(pt)
	ks := make([]byte, len(body))
	pd.xorKeystream(ks, step, nonce)
	v.KeystreamHex = hex.EncodeToString(ks)
	v.EncMessage1 = hex.EncodeToString(packetMessage(pd.enc, PacketEncLabel, 1, step, lpBytes(nonce)))
	v.TagMessage = hex.EncodeToString(packetMessage(pd.tag, PacketTagLabel, 0, step,
		[]byte{byte(k.Proto), byte(k.Port >> 8), byte(k.Port)}, lpBytes(nonce), lpBytes(body), lpBytes(boundBytes(bound))))
	v.TagHex = hex.EncodeToString(payload[len(payload)-TagSize:])
	if v.OpenError != "" {
		open := tamper(v.Name, payload)
		if edit, ok := claimTampers[v.Name]; ok {
			open = resealClaim(pd, payload, step, k, bound, edit)
		}
		v.OpenHex = hex.EncodeToString(open)
		_, err := pd.Open(open, step, k, bound)
		v.OpenError = openErrorName(err, "tag")
	}
	return v
}

// packetMessage writes a message of spec section 11 from the deriver's
// prefix (counter, label, step, server id, params) and the given tail,
// without the deriver's code: it is what HMAC gets.
func packetMessage(prefix []byte, label string, counter uint32, step uint64, tail ...[]byte) []byte {
	m := bytes.Clone(prefix)
	binary.BigEndian.PutUint32(m, counter)
	binary.BigEndian.PutUint64(m[stepOffset(label):], step)
	for _, t := range tail {
		m = append(m, t...)
	}
	return m
}

func lpBytes(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func boundBytes(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	return a.Unmap().AsSlice()
}

func TestPacketVectors(t *testing.T) {
	var got []packetVectorJSON
	for _, v := range packetVectorInputs() {
		got = append(got, computePacket(t, v))
	}
	file := readVectors(t, packetVectorFile, packetFileJSON{
		Version: specVersion,
		Spec:    "docs/spec.md, Packet knocks (otpknock/v1/packet-*)",
		Source:  "inputs: derive/packet_vectors_test.go; outputs: this implementation (go test ./derive -run TestPacketVectors -update), checked independently by docs/reference/packet_v1.py",
		Vectors: got,
	})
	checkVectors(t, packetVectorFile, file.Version, file.Vectors, got)
	// The published messages are what HMAC gets: their MACs are the
	// payload's tag and the keystream's first block.
	for _, v := range file.Vectors {
		secret, _ := hex.DecodeString(v.SecretHex)
		mac := hmac.New(sha256.New, secret)
		if got := hexMAC(mac, v.TagMessage)[:2*TagSize]; got != v.TagHex {
			t.Errorf("%s: HMAC(tag message) = %s, want tag %s", v.Name, got, v.TagHex)
		}
		ks := hexMAC(mac, v.EncMessage1)
		if n := min(len(ks), len(v.KeystreamHex)); ks[:n] != v.KeystreamHex[:n] {
			t.Errorf("%s: HMAC(keystream message 1) = %s, want %s", v.Name, ks[:n], v.KeystreamHex[:n])
		}
	}
	t.Run("coverage", func(t *testing.T) { checkPacketCoverage(t, file.Vectors) })
	// Every published payload opens to its claim; every refusal is refused.
	for _, v := range file.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			pd, step, _, c, bound := v.inputs(t)
			k, err := ParseKnock(v.Element)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := hex.DecodeString(v.PayloadHex)
			got, err := pd.Open(payload, step, k, bound)
			if err != nil {
				t.Fatalf("Open(payload) = %v", err)
			}
			if got.Source != c.Source || len(got.Addrs) != len(c.Addrs) {
				t.Errorf("claim = %+v, want %+v", got, c)
			}
			if v.OpenHex != "" {
				open, _ := hex.DecodeString(v.OpenHex)
				if _, err := pd.Open(open, step, k, bound); openErrorName(err, "tag") != v.OpenError || err == nil {
					t.Errorf("Open(tampered) = %v, want %q", err, v.OpenError)
				}
			}
		})
	}
}

// checkPacketCoverage asserts that the vectors reach a rejected first
// draw of the element (spec section 11.1) and each refusal of section
// 11.5 that a payload alone can cause.
func checkPacketCoverage(t *testing.T, vs []packetVectorJSON) {
	seen := map[string]bool{}
	for _, v := range vs {
		f := Fields{Step: time.Duration(v.Period) * time.Second, Knocks: v.Knocks, KnockRange: v.KnockRange, Protocols: v.Protocols, Exclude: v.Exclude}
		p, err := f.Params()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		n := uint64(len(usableValues(p)) * len((p.Protocols &^ Protocols(TCP)).List()))
		block, _ := hex.DecodeString(v.PortBlock1)
		if uint64(binary.BigEndian.Uint32(block)) >= (1<<32)/n*n {
			seen["a rejected first draw"] = true
		}
		seen["refused by "+v.OpenError] = true
	}
	for _, want := range []string{"a rejected first draw", "refused by size", "refused by tag", "refused by claim"} {
		if !seen[want] {
			t.Errorf("no vector has %s", want)
		}
	}
}

// hexMAC returns the hex HMAC of a hex message with m's key.
func hexMAC(m hash.Hash, msgHex string) string {
	msg, _ := hex.DecodeString(msgHex)
	m.Reset()
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}
