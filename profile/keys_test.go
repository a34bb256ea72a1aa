package profile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/derive"
)

func TestKeysSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "otpknock", "client.yaml")
	s := &Store{Path: path}
	k, err := s.GenerateKey("alice@laptop", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GenerateKey("alice@laptop", rand.Reader); err == nil {
		t.Error("a second key of the same name was made")
	}
	if _, err := s.GenerateKey("bad name", rand.Reader); err == nil {
		t.Error("a key name with a space was accepted")
	}
	p := testProfile("gw1", "198.18.0.1")
	p.Knock, p.Auth = derive.ModePacket, derive.AuthEd25519
	if err := s.AttachKey(&p.Account, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(p); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("store mode %04o, want 0600", st.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	gk, ok := got.Key("alice@laptop")
	if !ok || !bytes.Equal(gk.Private, k.Private) {
		t.Fatalf("key after a round trip: %v %x, want %x", ok, gk.Private, k.Private)
	}
	gp, _ := got.Get("gw1")
	if gp.Auth != derive.AuthEd25519 || !bytes.Equal(gp.PrivateKey, k.Private) {
		t.Errorf("profile: auth %v key %x, want ed25519 %x", gp.Auth, gp.PrivateKey, k.Private)
	}
	line := k.Line()
	pub, name, err := derive.ParseKeyLine(line)
	if err != nil || name != "alice@laptop" || !bytes.Equal(pub, k.Private.Public().(ed25519.PublicKey)) {
		t.Errorf("Line() = %q: %x %q %v", line, pub, name, err)
	}
	if seed := derive.EncodeSecret(k.Private.Seed()); strings.Contains(line, seed) {
		t.Error("the public key line holds the private seed")
	}
}

func TestAttachKeyErrors(t *testing.T) {
	p := testProfile("gw1", "198.18.0.1")
	p.Knock, p.Auth = derive.ModePacket, derive.AuthEd25519
	empty := &Store{Path: "/x/client.yaml"}
	if err := empty.AttachKey(&p.Account, ""); err == nil || !strings.Contains(err.Error(), "otpknock keygen") {
		t.Errorf("no keys: %v, want advice to run keygen", err)
	}
	two := &Store{Path: "/x/client.yaml"}
	two.GenerateKey("a", rand.Reader)
	two.GenerateKey("b", rand.Reader)
	if err := two.AttachKey(&p.Account, ""); err == nil || !strings.Contains(err.Error(), "2 keys") {
		t.Errorf("two keys, none named: %v", err)
	}
	if err := two.AttachKey(&p.Account, "c"); err == nil || !strings.Contains(err.Error(), `no key "c"`) {
		t.Errorf("unknown key: %v", err)
	}
	if err := two.AttachKey(&p.Account, "b"); err != nil || p.PrivateKey == nil {
		t.Errorf("named key: %v", err)
	}
}

func TestLoadEd25519Errors(t *testing.T) {
	for _, tc := range []struct{ name, extra, want string }{
		{"no private key", "    knock: packet\n    auth: ed25519\n", "private_key: want a 32-byte Ed25519 seed"},
		{"key without auth", "    knock: packet\n    private_key: AAAA\n", "private_key: only auth: ed25519 profiles have one"},
		{"sequence", "    auth: ed25519\n    private_key: AAAA\n", "auth: ed25519 needs knock: packet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "client.yaml")
			s := &Store{Path: path, Profiles: []Profile{testProfile("gw1", "198.18.0.1")}}
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			y, _ := os.ReadFile(path)
			if err := os.WriteFile(path, append(y, tc.extra...), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want %q", err, tc.want)
			}
		})
	}
}
