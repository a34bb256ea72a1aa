package clientcmd

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

// TestKeygenAndImport: keygen prints one public key line and keeps the
// private key in the store (mode 0600, never printed unless asked); an
// ed25519 URI imports with that key; without a key the import refuses
// with one line, exit 2, nothing written.
func TestKeygenAndImport(t *testing.T) {
	h := newHarness(t)
	acct := provision.Account{ServerID: "gw1", User: "alice", Host: "198.18.0.1", Secret: bytes.Repeat([]byte{7}, 32),
		Params: derive.DefaultParams(), Knock: derive.ModePacket, Auth: derive.AuthEd25519}
	acct.Params.Protocols = derive.Protocols(derive.TCP | derive.UDP)
	uri, err := acct.URI()
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, err := h.run(uri, "import", "-")
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "run otpknock keygen") || strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("import before keygen: %v (exit %d), stderr %q; want one line advising keygen, exit 2", err, cli.ExitCode(err), stderr)
	}
	store := h.env["OTPKNOCK_CLIENT_CONFIG"]
	if _, err := os.Stat(store); !os.IsNotExist(err) {
		t.Errorf("a refused import wrote %s (%v)", store, err)
	}
	out := h.mustRun("", "keygen", "--name", "alice@laptop")
	f := strings.Fields(out)
	if len(f) != 3 || f[0] != derive.KeyLinePrefix || f[2] != "alice@laptop" || strings.Count(out, "\n") != 1 {
		t.Fatalf("keygen printed %q, want one line otpknock-ed25519 BASE64 alice@laptop", out)
	}
	s, err := profile.Load(store)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.Key("alice@laptop")
	if seed := derive.EncodeSecret(k.Private.Seed()); strings.Contains(out, seed) {
		t.Error("keygen printed the private seed unasked")
	}
	if st, _ := os.Stat(store); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("store mode %04o, want 0600", st.Mode().Perm())
	}
	if _, _, err := h.run("", "keygen", "--name", "alice@laptop"); cli.ExitCode(err) != cli.ExitUsage {
		t.Errorf("a second key of the same name: %v, want exit 2", err)
	}
	shown := h.mustRun("", "keygen", "--name", "backup", "--show-private")
	bk, _ := profile.Load(store)
	if b, _ := bk.Key("backup"); !strings.Contains(shown, "private seed (Base32; whoever holds it knocks as you): "+derive.EncodeSecret(b.Private.Seed())) {
		t.Errorf("keygen --show-private printed %q, want the seed", shown)
	}
	h.mustRun(uri, "import", "-", "--key", "alice@laptop")
	s, _ = profile.Load(store)
	p, err := s.Get("gw1")
	if err != nil || !bytes.Equal(p.PrivateKey, k.Private) || p.Auth != derive.AuthEd25519 {
		t.Fatalf("imported profile: %v auth %v key %x; want the keygen key", err, p.Auth, p.PrivateKey)
	}
	show := h.mustRun("", "show", "gw1")
	el, _ := derive.PacketElement(derive.AuthEd25519, acct.Secret, "gw1", acct.Params, derive.Step(h.clock.Now(), acct.Params.Period))
	if !strings.Contains(show, el.String()) {
		t.Errorf("show %q lacks the Ed25519 element %v", show, el)
	}
}
