package fleet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
)

func keyPair(t testing.TB) fleet.KeyPair {
	t.Helper()
	kp, err := fleet.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// TestSealOpen: a member opens its own record from the administrator,
// holding the member key of its identity; any other member, a record
// sealed by another key, or a record moved to another user's place does
// not open.
func TestSealOpen(t *testing.T) {
	admin, a, b, mallory := keyPair(t), keyPair(t), keyPair(t), keyPair(t)
	ma := fleet.MemberInfo{Name: "a", Identity: "a.example.org", Public: a.Public[:]}
	mb := fleet.MemberInfo{Name: "b", Identity: "vpn.example.org", Public: b.Public[:]}
	secret := bytes.Repeat([]byte{1}, 32)
	recs, err := fleet.SealUser(admin, "acme", secret, []fleet.MemberInfo{ma, mb}, fleet.UserKey{User: "alice", Open: []string{"tcp/22"}})
	if err != nil {
		t.Fatal(err)
	}
	k, err := fleet.Open(recs[0], a, "a", "a.example.org", admin.Public)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := derive.MemberKey(secret, "acme", "a.example.org")
	if !bytes.Equal(k.Key, want) || k.User != "alice" || k.Open[0] != "tcp/22" {
		t.Errorf("opened %+v, want alice's member key of a.example.org and tcp/22", k)
	}
	if bytes.Contains(recs[0].Box, want) || bytes.Contains(recs[0].Box, secret) {
		t.Error("the sealed record holds a key in the clear")
	}
	forged, err := fleet.Seal(mallory, ma, fleet.UserKey{User: "alice", Member: "a", Identity: "a.example.org", Key: want})
	if err != nil {
		t.Fatal(err)
	}
	moved := recs[0]
	moved.User = "bob"
	for name, c := range map[string]struct {
		r        fleet.Record
		me       fleet.KeyPair
		name, id string
	}{
		"another member's record": {recs[1], a, "a", "a.example.org"},
		"sealed by another key":   {forged, a, "a", "a.example.org"},
		"moved to another user":   {moved, a, "a", "a.example.org"},
		"claimed for another id":  {recs[0], a, "a", "b.example.org"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := fleet.Open(c.r, c.me, c.name, c.id, admin.Public); !errors.Is(err, fleet.ErrNotForUs) {
				t.Fatalf("Open: %v, want ErrNotForUs", err)
			}
		})
	}
}

// TestOptionsCheck: a member refuses to join without TLS and credentials
// unless insecure, naming the field.
func TestOptionsCheck(t *testing.T) {
	base := fleet.Options{URLs: []string{"tls://n1:4222"}, Fleet: "acme"}
	for _, c := range []struct {
		name string
		mut  func(*fleet.Options)
		want string
	}{
		{"no TLS", func(o *fleet.Options) {}, "fleet.tls_ca"},
		{"no credentials", func(o *fleet.Options) { o.CAFile = "ca.pem" }, "fleet.credentials"},
		{"both credentials", func(o *fleet.Options) { o.CAFile, o.CredsFile, o.User = "ca.pem", "x.creds", "u" }, "fleet.credentials"},
		{"no servers", func(o *fleet.Options) { o.URLs = nil }, "fleet.servers"},
		{"insecure", func(o *fleet.Options) { o.Insecure = true }, ""},
		{"TLS and creds", func(o *fleet.Options) { o.CAFile, o.CredsFile = "ca.pem", "x.creds" }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.mut(&o)
			err := o.Check()
			if (c.want == "") != (err == nil) || err != nil && !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("Check: %v, want %q", err, c.want)
			}
		})
	}
}
