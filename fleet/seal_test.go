package fleet_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"golang.org/x/crypto/nacl/box"
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
	if !bytes.Equal(k.Key, want) || k.User != "alice" || k.Open[0] != "tcp/22" || k.Generation == 0 || k.Generation != recs[0].Generation {
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
	relabelled := recs[0]
	relabelled.Generation++
	widened := recs[0] // the clear label of a user with no grant_prefix made /16
	widened.GrantPrefix = "16,48"
	unremoved, err := fleet.SealTombstone(admin, ma, "alice", 5)
	if err != nil {
		t.Fatal(err)
	}
	unremoved.Removed = false
	// A payload of before generations: no generation, otherwise right.
	var nonce [24]byte
	plain := []byte(`{"user":"alice","member":"a","identity":"a.example.org","key":"` +
		base64.StdEncoding.EncodeToString(want) + `","open":["tcp/22"]}`)
	ungenerated := fleet.Record{User: "alice", Member: "a", Nonce: nonce[:], Box: box.Seal(nil, plain, &nonce, &a.Public, &admin.Private)}
	keyed, err := fleet.Seal(admin, ma, fleet.UserKey{User: "alice", Member: "a", Identity: "a.example.org", Key: want, Removed: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		r        fleet.Record
		me       fleet.KeyPair
		name, id string
	}{
		"another member's record":  {recs[1], a, "a", "a.example.org"},
		"sealed by another key":    {forged, a, "a", "a.example.org"},
		"moved to another user":    {moved, a, "a", "a.example.org"},
		"claimed for another id":   {recs[0], a, "a", "b.example.org"},
		"generation label changed": {relabelled, a, "a", "a.example.org"},
		"grant prefix label added": {widened, a, "a", "a.example.org"},
		"tombstone label removed":  {unremoved, a, "a", "a.example.org"},
		"no generation":            {ungenerated, a, "a", "a.example.org"},
		"tombstone with a key":     {keyed, a, "a", "a.example.org"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := fleet.Open(c.r, c.me, c.name, c.id, admin.Public); !errors.Is(err, fleet.ErrNotForUs) {
				t.Fatalf("Open: %v, want ErrNotForUs", err)
			}
		})
	}
}

// TestSealGrantPrefix: a user's grant_prefix is sealed with its
// options and repeated as a label; a member opens it as sealed, and a
// record whose label was changed (narrowed or dropped) does not open.
func TestSealGrantPrefix(t *testing.T) {
	admin, a := keyPair(t), keyPair(t)
	ma := fleet.MemberInfo{Name: "a", Identity: "vpn.example.org", Public: a.Public[:]}
	recs, err := fleet.SealUser(admin, "acme", bytes.Repeat([]byte{1}, 32), []fleet.MemberInfo{ma},
		fleet.UserKey{User: "carol", Open: []string{"tcp/22"}, GrantPrefix: "24,64"})
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].GrantPrefix != "24,64" {
		t.Errorf("label grant_prefix %q, want 24,64", recs[0].GrantPrefix)
	}
	k, err := fleet.Open(recs[0], a, "a", "vpn.example.org", admin.Public)
	if err != nil || k.GrantPrefix != "24,64" {
		t.Fatalf("opened grant_prefix %q, %v; want 24,64", k.GrantPrefix, err)
	}
	for _, label := range []string{"", "16,48", "24"} {
		r := recs[0]
		r.GrantPrefix = label
		if _, err := fleet.Open(r, a, "a", "vpn.example.org", admin.Public); !errors.Is(err, fleet.ErrNotForUs) {
			t.Errorf("label %q on a record sealed with 24,64: Open %v, want ErrNotForUs", label, err)
		}
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
