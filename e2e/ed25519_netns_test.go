package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/otpknock/otpknock/provision"
)

// TestEd25519 is the enrolment and the knock of an ed25519 user with the
// real programs: otpknock keygen on the client, otpknockd user add --key
// with its line, otpknock import of the URI the server prints (no
// credential that can knock) and otpknock send. Before the user knocks,
// an attacker holding a copy of everything the server keeps (the
// config, the secrets directory, the state file) knocks from the
// stranger's address with the locator in hand: with keys of its own,
// with the public key taken for a seed, with the locator as an hmac
// secret, and with the real client given a profile built from the copy.
// Nothing opens, the daemon counts the signature refusals and keeps
// running, and the user's knock then opens.
func TestEd25519(t *testing.T) {
	w := newPacketWorld(t, "[tcp, udp]")
	p := w.p
	w.controls()
	line, _, _ := strings.Cut(w.must(p.Client, "keygen", "--name", "alice@laptop"), "\n") // stdout first, then the note on stderr
	if !regexp.MustCompile(`^otpknock-ed25519 [A-Za-z0-9+/=]{44} alice@laptop$`).MatchString(line) {
		t.Fatalf("keygen printed %q", line)
	}
	out := w.must(p.Server, "user", "add", "sig", "-c", w.cfg, "--key", line, "--open", fmt.Sprintf("tcp/%d", patPort), "--no-qr", "--no-reload")
	uri := regexp.MustCompile(`otpauth://\S+`).FindString(out)
	if !strings.Contains(uri, "auth=ed25519") || strings.Contains(uri, "secret=") {
		t.Fatalf("user add --key printed %q, want an auth=ed25519 URI without a secret", uri)
	}
	imp := p.Cmd(p.Client, bins.Client, "import", "-", "--name", "sig")
	imp.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+w.store)
	imp.Stdin = strings.NewReader(uri)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	w.stopServer(15)
	w.startServer() // with sig, as a reload would
	stolen := steal(t, w.cfg)

	cfg, err := config.Load(stolen)
	if err != nil {
		t.Fatal(err)
	}
	locator, err := cfg.ReadSecret("sig")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := cfg.User("sig")
	step := w.step()
	sd, err := derive.NewSigPacket(locator, nil, cfg.ServerID, cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sd.Knock(step)
	claim := derive.Claim{Addrs: []netip.Addr{w.stranger}}
	_, forged, _ := ed25519.GenerateKey(rand.Reader)
	var tries [][]byte
	for i, key := range []ed25519.PrivateKey{forged, ed25519.NewKeyFromSeed(u.PublicKey)} {
		pl, err := sd.Seal(nil, key, step, bytes.Repeat([]byte{byte(i)}, derive.NonceSize), claim, netip.Addr{}, derive.PayloadMin)
		if err != nil {
			t.Fatal(err)
		}
		tries = append(tries, pl)
	}
	for _, pl := range tries {
		w.send(w.stranger, p.ServerV4, k, pl)
	}
	hm, _ := derive.NewPacket(locator, cfg.ServerID, cfg.Params)
	hk, _ := hm.Knock(step)
	hp, _ := hm.Seal(nil, step, make([]byte, derive.NonceSize), claim, netip.Addr{}, derive.PayloadMin)
	w.send(w.stranger, p.ServerV4, hk, hp)
	w.waitMetric("otpknock_packet_bad_signature_total", 2)
	// The real client, with a profile made from the copy and a key of
	// its own.
	thief := filepath.Join(t.TempDir(), "client.yaml")
	s := &profile.Store{Path: thief}
	s.Add(profile.Profile{Name: "thief", Account: provision.Account{ServerID: cfg.ServerID, User: "sig", Host: p.ServerV4.String(),
		Secret: locator, Params: cfg.Params, Open: u.Open, Knock: derive.ModePacket, Auth: derive.AuthEd25519, PrivateKey: forged}})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	send := p.Cmd(p.Client, bins.Client, "send", "thief", "--wait", fmt.Sprintf("tcp/%d,1s", patPort), "--retries", "0")
	send.Env = append(os.Environ(), "OTPKNOCK_CLIENT_CONFIG="+thief)
	if out, err := send.CombinedOutput(); err == nil {
		t.Errorf("the thief's send succeeded:\n%s", out)
	}
	w.waitMetricAtLeast("otpknock_packet_bad_signature_total", 3) // its packet and the copies it resends
	if w.open(w.stranger, p.ServerV4, patPort) || w.open(netip.Addr{}, p.ServerV4, patPort) {
		t.Fatalf("the server's copied store opened tcp/%d\n%s", patPort, w.log)
	}
	if m := w.metrics(); m[grants] != 0 {
		t.Errorf("grants %v after the attacker's knocks, want 0", m[grants])
	}
	w.running()

	if _, _, err := w.knock("sig", patPort); err != nil {
		t.Fatalf("the user's knock: %v\nserver log:\n%s", err, w.log)
	}
	w.waitLog("msg=grant src=198.18.0.2 user=sig ")
	w.running()
}

// steal copies the server's config, secrets directory and state file to
// a directory of the attacker's and returns the copy's config path.
func steal(t *testing.T, cfgPath string) string {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(to), 0o700)
		if err == nil {
			os.WriteFile(to, data, 0o600)
		}
	}
	copyFile(cfgPath, filepath.Join(dir, "config.yaml"))
	entries, _ := os.ReadDir(cfg.SecretsDir)
	for _, e := range entries {
		copyFile(filepath.Join(cfg.SecretsDir, e.Name()), filepath.Join(dir, "secrets", e.Name()))
	}
	copyFile(cfg.StateFile, filepath.Join(dir, "state.json"))
	return filepath.Join(dir, "config.yaml")
}

// waitMetricAtLeast waits until the metric reaches at least want, for 5 s.
func (w *packetWorld) waitMetricAtLeast(name string, want float64) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for w.metrics()[name] < want {
		if time.Now().After(deadline) {
			w.t.Fatalf("metric %s = %v, want at least %v\nserver log:\n%s", name, w.metrics()[name], want, w.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
