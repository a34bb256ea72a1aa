package daemon

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/fleet"
	"github.com/otpknock/otpknock/listener"
)

// TestPoolEd25519: an ed25519 fleet user. Each member opens its record
// to a locator of its own and the public key, nothing that signs: knocks
// made from all a member holds (the locator, the public key, the
// locator as an hmac secret or as a seed) open nothing on any member;
// the user's own knock opens on one member and, through the pool, on the
// other.
func TestPoolEd25519(t *testing.T) {
	const step = poolStep
	store, admin, pool, _ := startPool(t, "m1", "m2")
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	members, err := store.Members(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	enrollment := bytes.Repeat([]byte{0x17}, 32) // the locator's enrollment secret, on the admin host only
	recs, err := fleet.SealUser(admin, "acme", enrollment, members, fleet.UserKey{User: "erin", Open: []string{"tcp/22"},
		Knock: "packet", Auth: "ed25519", PublicKey: derive.FormatKeyLine(pub, "erin@laptop")})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := store.PutRecord(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range pool {
		waitFor(t, 2*time.Second, "erin applied on every member", func() bool { return r.hasUser("erin") })
	}

	// All m1 holds of erin: its record, opened.
	held, ok := pool[0].d.fleet.keyOf("erin")
	if !ok {
		t.Fatal("m1 holds no key of erin")
	}
	locator, _ := derive.MemberKey(enrollment, "acme", poolIdentity)
	if !bytes.Equal(held, locator) {
		t.Fatalf("m1 holds %x, want the pool's locator %x (derived like an hmac member key)", held, locator)
	}
	sd, err := derive.NewSigPacket(held, nil, poolIdentity, pool[0].d.cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := sd.Knock(step)
	attacker, client := netip.MustParseAddr("198.18.0.66"), netip.MustParseAddr("198.18.0.2")
	seal := func(signer ed25519.PrivateKey, n byte, addr netip.Addr) []byte {
		p, err := sd.Seal(nil, signer, step, bytes.Repeat([]byte{n}, derive.NonceSize), derive.Claim{Addrs: []netip.Addr{addr}}, netip.Addr{}, derive.PayloadMin)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hmacKnock, err := derive.NewPacket(held, poolIdentity, pool[0].d.cfg.Params)
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := hmacKnock.Knock(step)
	hp, _ := hmacKnock.Seal(nil, step, bytes.Repeat([]byte{9}, derive.NonceSize), derive.Claim{Addrs: []netip.Addr{attacker}}, netip.Addr{}, derive.PayloadMin)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	tries := []listener.Packet{
		{Src: attacker, Knock: k, Payload: seal(other, 1, attacker)},
		{Src: attacker, Knock: k, Payload: seal(ed25519.NewKeyFromSeed(held), 2, attacker)},
		{Src: attacker, Knock: k, Payload: seal(ed25519.NewKeyFromSeed(pub), 3, attacker)},
		{Src: attacker, Knock: hk, Payload: hp},
	}
	for _, r := range pool {
		for _, p := range tries {
			r.src.Inject(p)
		}
		if err := r.src.Drain(testContext(t)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.fw.String(), "grant ") {
			t.Fatalf("a knock made from what m1 holds opened:\n%s", r.fw.String())
		}
	}

	pool[0].src.Inject(listener.Packet{Src: client, Knock: k, Payload: seal(key, 4, client)})
	if err := pool[0].src.Drain(testContext(t)); err != nil {
		t.Fatal(err)
	}
	want := "grant 198.18.0.2 tcp/22 30s"
	for i, r := range pool {
		waitFor(t, 2*time.Second, "erin's grant open on member "+string(rune('1'+i)), func() bool { return strings.Contains(r.fw.String(), want) })
		if strings.Contains(r.fw.String(), attacker.String()) {
			t.Errorf("member %d opened for the attacker:\n%s", i+1, r.fw.String())
		}
	}
}
