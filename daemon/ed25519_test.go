package daemon

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall/firewalltest"
	"github.com/otpknock/otpknock/listener"
)

// addSigUser adds sig, an ed25519 packet user opening tcp/2222: the
// server gets its public key line and a locator secret, nothing more.
func addSigUser(t *testing.T, cfg *config.Config) (*config.Config, ed25519.PrivateKey, []byte) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	line := derive.FormatKeyLine(key.Public().(ed25519.PublicKey), "sig@laptop")
	cfg, err = config.AddUser(cfg.Path, config.NewUser{Name: "sig", Open: []string{"tcp/2222"}, Knock: derive.ModePacket, PublicKey: line})
	if err != nil {
		t.Fatal(err)
	}
	locator := bytes.Repeat([]byte("loc!"), 8)
	if err := cfg.WriteSecret("sig", locator); err != nil {
		t.Fatal(err)
	}
	return cfg, key, locator
}

// sigSeal seals a knock of step claiming addr with the locator, signed
// with key.
func sigSeal(t *testing.T, cfg *config.Config, locator []byte, key ed25519.PrivateKey, step uint64, n byte, addr netip.Addr) (derive.Knock, []byte) {
	t.Helper()
	sd, err := derive.NewSigPacket(locator, nil, cfg.ServerID, cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sd.Knock(step)
	p, err := sd.Seal(nil, key, step, bytes.Repeat([]byte{n}, derive.NonceSize), derive.Claim{Addrs: []netip.Addr{addr}}, netip.Addr{}, derive.PayloadMin)
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

// TestDaemonEd25519 is an attacker holding everything the server keeps
// (the config with the public key, the secrets directory with the
// locator, the state file) trying to knock: nothing opens, the attempts
// that pass the locator's check are one log line, and the user's own
// knock then opens (the daemon is alive and the step unused).
func TestDaemonEd25519(t *testing.T) {
	cfg, _ := setupConfig(t)
	cfg, key, _ := addSigUser(t, cfg)
	const step = 60000000
	c := clocktest.NewFake(derive.StepStart(step, 30*time.Second).Add(3 * time.Second))
	fw := &firewalltest.Fake{Clock: c}
	r := start(t, cfg, c, fw)
	defer r.stop(t)
	attacker, client := netip.MustParseAddr("198.18.0.66"), netip.MustParseAddr("198.18.0.2")
	send := func(src netip.Addr, k derive.Knock, payload []byte) {
		t.Helper()
		r.src.Inject(listener.Packet{Src: src, Knock: k, Payload: payload})
		if err := r.src.Drain(testContext(t)); err != nil {
			t.Fatal(err)
		}
	}

	// What the attacker copied from the server.
	stolen, err := config.Load(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	locator, err := stolen.ReadSecret("sig")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := stolen.User("sig")
	if _, err := os.ReadFile(stolen.StateFile); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	_, forged, _ := ed25519.GenerateKey(rand.Reader)
	pubAsSeed := ed25519.NewKeyFromSeed(u.PublicKey)
	hmacKnock, err := derive.NewPacket(locator, stolen.ServerID, stolen.Params) // the locator as an hmac secret
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := hmacKnock.Knock(step)
	hp, _ := hmacKnock.Seal(nil, step, bytes.Repeat([]byte{9}, derive.NonceSize), derive.Claim{Addrs: []netip.Addr{attacker}}, netip.Addr{}, derive.PayloadMin)
	k, p1 := sigSeal(t, stolen, locator, forged, step, 1, attacker)
	_, p2 := sigSeal(t, stolen, locator, pubAsSeed, step, 2, attacker)
	_, good := sigSeal(t, cfg, locator, key, step, 3, client)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-derive.TagSize-1] ^= 1 // in the sealed signature: the locator's check refuses it
	for _, p := range []struct {
		k       derive.Knock
		payload []byte
	}{{k, p1}, {k, p2}, {hk, hp}, {k, flipped}} {
		send(attacker, p.k, p.payload)
	}
	noGrants := "installed=true nflog=true setups=1"
	if got := fw.String(); got != noGrants {
		t.Fatalf("the server's store knocked:\n%s", got)
	}
	// Two forged keys, one source and step: the first refusal is logged,
	// the second counted (the daemon logs a (user, step, reason) once).
	if n := strings.Count(r.log.String(), "reason=\"signature does not verify"); n != 1 {
		t.Errorf("%d signature refusals logged, want 1:\n%s", n, r.log)
	}
	if m := r.scrape(t, "/metrics"); !strings.Contains(m, "otpknock_packet_bad_signature_total 2") {
		t.Errorf("metrics lack the two signature refusals:\n%s", m)
	}
	send(client, k, good)
	if got, want := fw.String(), noGrants+"\ngrant 198.18.0.2 tcp/2222 30s"; got != want {
		t.Errorf("the user's knock after the attempts:\n%s\nwant:\n%s", got, want)
	}
}
