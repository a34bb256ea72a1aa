package config

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
)

func TestParseEd25519Users(t *testing.T) {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	line := derive.FormatKeyLine(pub, "alice@laptop")
	c, err := Parse([]byte("server_id: gw1\nusers:\n  - {name: alice, open: [tcp/22], knock: packet, auth: ed25519, public_key: '"+line+"'}\n"+
		"  - {name: bob, open: [tcp/22], knock: packet, auth: hmac}\n"), "/x/c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Users[0].Auth.String(), derive.Fingerprint(c.Users[0].PublicKey), c.Users[1].Auth.String()}
	want := []string{"ed25519", derive.Fingerprint(pub), "hmac"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("auth, fingerprint, auth (-want +got):\n%s", diff)
	}
	if c.Users[1].PublicKey != nil {
		t.Errorf("hmac user has a public key %x", c.Users[1].PublicKey)
	}
}

func TestParseEd25519Errors(t *testing.T) {
	const base = "server_id: gw1\nusers:\n  - {name: alice, open: [tcp/22], "
	line := derive.FormatKeyLine(make([]byte, 32), "")
	for _, tc := range []struct{ name, user, want string }{
		{"unknown auth", "knock: packet, auth: rsa}", `users[0]: auth: alice: "rsa" must be hmac or ed25519`},
		{"sequence user", "auth: ed25519, public_key: '" + line + "'}", "users[0]: auth: alice: ed25519 needs knock: packet"},
		{"no key", "knock: packet, auth: ed25519}", "users[0]: public_key: alice: an ed25519 user needs one"},
		{"key without auth", "knock: packet, public_key: '" + line + "'}", "users[0]: public_key: alice: only auth: ed25519 users have one"},
		{"short key", "knock: packet, auth: ed25519, public_key: 'otpknock-ed25519 AAAA'}", "users[0]: public_key: alice: public key line:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base+tc.user+"\n"), "/etc/otpknock/config.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("Parse() = %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestAddEd25519UserAndRekey(t *testing.T) {
	path := initConfig(t)
	k1 := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	k2 := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
	if _, err := AddUser(path, NewUser{Name: "alice", Open: []string{"tcp/22"}, Knock: derive.ModePacket, PublicKey: derive.FormatKeyLine(k1, "alice@laptop")}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddUser(path, NewUser{Name: "bob", Open: []string{"tcp/22"}}); err != nil {
		t.Fatal(err)
	}
	c, err := SetPublicKey(path, "alice", derive.FormatKeyLine(k2, "alice@phone"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := c.User("alice")
	if u.Auth != derive.AuthEd25519 || !bytes.Equal(u.PublicKey, k2) {
		t.Errorf("after rekey: auth %v key %x, want ed25519 %x", u.Auth, u.PublicKey, k2)
	}
	for _, tc := range []struct{ name, user, line, want string }{
		{"hmac user", "bob", derive.FormatKeyLine(k2, ""), `user "bob" authenticates with hmac`},
		{"no user", "carol", derive.FormatKeyLine(k2, ""), `no user "carol"`},
		{"bad line", "alice", "otpknock-ed25519 AAAA", "public_key: alice: public key line:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := SetPublicKey(path, tc.user, tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SetPublicKey = %v, want %q", err, tc.want)
			}
		})
	}
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := c.User("alice"); !bytes.Equal(u.PublicKey, k2) {
		t.Errorf("a refused rekey changed the file: key %x, want %x", u.PublicKey, k2)
	}
}
