package servercmd

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
)

// TestUserAddEd25519 enrolls a public key line (given, from a file, from
// standard input) and a pair made with --generate: the config keeps the
// public key, the secrets directory the locator; only the --generate URI
// carries a private key, and none of them a secret.
func TestUserAddEd25519(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	line := derive.FormatKeyLine(key.Public().(ed25519.PublicKey), "alice@laptop")
	keyFile := h.path("alice.pub")
	os.WriteFile(keyFile, []byte("# alice's key\n\n"+line+"\n"), 0o644)
	outs := map[string]string{
		"alice": h.mustRun("", "user", "add", "alice", "-c", cfg, "--key", line, "--no-qr", "--no-reload"),
		"bob":   h.mustRun("", "user", "add", "bob", "-c", cfg, "--key-file", keyFile, "--no-qr", "--no-reload"),
		"carol": h.mustRun(line+"\n", "user", "add", "carol", "-c", cfg, "--auth", "ed25519", "--key-file", "-", "--knock", "packet", "--no-qr", "--no-reload"),
		"dave":  h.mustRun("", "user", "add", "dave", "-c", cfg, "--generate", "--no-qr", "--no-reload"),
	}
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range outs {
		u, _ := c.User(name)
		if u.Auth != derive.AuthEd25519 || u.Knock != derive.ModePacket {
			t.Errorf("%s: auth %v knock %v, want ed25519 packet", name, u.Auth, u.Knock)
		}
		acct, err := provision.ParseURI(uriRE.FindString(out))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		locator, _ := c.ReadSecret(name)
		if acct.Auth != derive.AuthEd25519 || !bytes.Equal(acct.Secret, locator) || strings.Contains(out, "secret=") {
			t.Errorf("%s: URI auth %v, locator as stored %v, or it has a secret:\n%s", name, acct.Auth, bytes.Equal(acct.Secret, locator), out)
		}
		if !strings.Contains(out, "Public key: "+derive.Fingerprint(u.PublicKey)) {
			t.Errorf("%s: output lacks the fingerprint:\n%s", name, out)
		}
		switch {
		case name == "dave" && (acct.PrivateKey == nil || !bytes.Equal(acct.PrivateKey.Public().(ed25519.PublicKey), u.PublicKey)):
			t.Errorf("dave's --generate URI lacks the private key of the stored public key")
		case name != "dave" && (acct.PrivateKey != nil || !bytes.Equal(u.PublicKey, key.Public().(ed25519.PublicKey))):
			t.Errorf("%s: URI carries a private key, or the stored key is not the line's", name)
		}
	}
	cfgText, _ := os.ReadFile(cfg)
	dave, _ := provision.ParseURI(uriRE.FindString(outs["dave"]))
	if seed := derive.EncodeSecret(dave.PrivateKey.Seed()); bytes.Contains(cfgText, []byte(seed)) {
		t.Error("the config holds dave's private key")
	}
	_, stderr, err := h.run("", "user", "show", "alice", "-c", cfg)
	if err != nil || !strings.Contains(stderr, "key "+derive.Fingerprint(key.Public().(ed25519.PublicKey))) {
		t.Errorf("user show: %v, stderr lacks the fingerprint:\n%s", err, stderr)
	}
}

func TestUserAddEd25519Errors(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	line := derive.FormatKeyLine(make([]byte, 32), "")
	before, _ := os.ReadFile(cfg)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"auth without a key", []string{"--auth", "ed25519"}, "--auth ed25519: give the user's public key line"},
		{"two key sources", []string{"--key", line, "--generate"}, "give one of them"},
		{"bad line", []string{"--key", "otpknock-ed25519 AAAA"}, "--key: public key line:"},
		{"sequence", []string{"--key", line, "--knock", "sequence"}, "--knock: ed25519 keys sign packet knocks"},
		{"hmac with a key", []string{"--auth", "hmac", "--key", line}, "--auth hmac:"},
		{"unknown auth", []string{"--auth", "rsa"}, `--auth: "rsa" must be hmac or ed25519`},
		{"missing key file", []string{"--key-file", h.path("nope.pub")}, "--key-file:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := h.run("", append([]string{"user", "add", "alice", "-c", cfg, "--no-qr", "--no-reload"}, tc.args...)...)
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v (exit %d), want one line with %q, exit 2", err, cli.ExitCode(err), tc.want)
			}
			if after, _ := os.ReadFile(cfg); !bytes.Equal(before, after) {
				t.Error("the config changed")
			}
			if _, err := os.Stat(h.path("secrets/alice.key")); !os.IsNotExist(err) {
				t.Errorf("a secret was written (%v)", err)
			}
		})
	}
}

// TestUserRekey replaces an ed25519 user's key; an hmac user has none.
func TestUserRekey(t *testing.T) {
	h := newHarness(t)
	cfg := h.path("config.yaml")
	h.mustRun("", "init", "--config", cfg, "--server-id", "gw1", "--host", "198.18.0.1")
	k1 := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	k2 := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
	h.mustRun("", "user", "add", "alice", "-c", cfg, "--key", derive.FormatKeyLine(k1, ""), "--no-qr", "--no-reload")
	h.mustRun("", "user", "add", "bob", "-c", cfg, "--knock", "packet", "--no-qr", "--no-reload")
	locator, _ := os.ReadFile(h.path("secrets/alice.key"))
	out := h.mustRun("", "user", "rekey", "alice", "-c", cfg, "--key", derive.FormatKeyLine(k2, "alice@new"), "--no-reload")
	if want := "Replaced the public key of user alice in " + cfg + ": " + derive.Fingerprint(k2) + ", was " + derive.Fingerprint(k1) + "."; !strings.Contains(out, want) {
		t.Errorf("rekey output lacks %q:\n%s", want, out)
	}
	c, _ := config.Load(cfg)
	if u, _ := c.User("alice"); !bytes.Equal(u.PublicKey, k2) {
		t.Errorf("alice's key after rekey: %x, want %x", u.PublicKey, k2)
	}
	if after, _ := os.ReadFile(h.path("secrets/alice.key")); !bytes.Equal(after, locator) {
		t.Error("rekey changed the locator secret")
	}
	out = h.mustRun("", "user", "rekey", "alice", "-c", cfg, "--generate", "--no-qr", "--no-reload")
	acct, err := provision.ParseURI(uriRE.FindString(out))
	c, _ = config.Load(cfg)
	u, _ := c.User("alice")
	if err != nil || acct.PrivateKey == nil || !bytes.Equal(acct.PrivateKey.Public().(ed25519.PublicKey), u.PublicKey) {
		t.Errorf("rekey --generate: %v; the URI's key does not match the stored one:\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"hmac user", []string{"bob", "--key", derive.FormatKeyLine(k2, "")}, "user bob authenticates with hmac"},
		{"no user", []string{"carol", "--generate"}, `no user "carol"`},
		{"no key", []string{"alice"}, "give the user's public key line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := h.run("", append([]string{"user", "rekey", "-c", cfg, "--no-reload"}, tc.args...)...)
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (exit %d), want %q, exit 2", err, cli.ExitCode(err), tc.want)
			}
		})
	}
}
