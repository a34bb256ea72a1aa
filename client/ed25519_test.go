package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/otpknock/otpknock/clock/clocktest"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/sender/sendertest"
)

// TestKnockEd25519 knocks with an ed25519 profile and opens the packet as
// the server does, with the locator and the public key only; a profile
// without its private key refuses to knock.
func TestKnockEd25519(t *testing.T) {
	start := derive.StepStart(60000000, 30*time.Second)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, ed25519.SeedSize))
	for _, tc := range []struct {
		name string
		key  ed25519.PrivateKey
		err  string
	}{
		{"signed", key, ""},
		{"no private key", nil, "holds no Ed25519 private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clocktest.NewFake(start.Add(10 * time.Second))
			f := &sendertest.Fake{Clock: c, Start: start}
			cl := &Client{Clock: c, Writer: f, Route: routes(dualRoutes), State: memState{}, Rand: &counter{}, Gap: 50 * time.Millisecond, Status: &bytes.Buffer{}}
			p := testProfile("198.18.0.1", derive.ModePacket)
			p.Auth, p.PrivateKey = derive.AuthEd25519, tc.key
			pl, err := cl.Plan(context.Background(), p, Options{Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Knock(context.Background(), pl, 0)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Knock = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			server, err := derive.NewSigPacket(p.Secret, key.Public().(ed25519.PublicKey), p.ServerID, p.Params)
			if err != nil {
				t.Fatal(err)
			}
			m := payloadRE.FindAllStringSubmatch(f.String(), -1)
			if len(m) != 1 {
				t.Fatalf("%d packets sent, want 1:\n%s", len(m), f)
			}
			k, _ := derive.ParseKnock(m[0][2])
			payload, _ := hex.DecodeString(m[0][4])
			if lo, hi := derive.SizeRange(derive.Claim{Addrs: nil}); len(payload) < lo || len(payload) > hi {
				t.Errorf("payload of %d bytes, want %d to %d", len(payload), lo, hi)
			}
			claim, err := server.Open(payload, 60000000, k, netip.Addr{})
			if err != nil {
				t.Fatalf("the server cannot open the knock: %v", err)
			}
			if got := ClaimString(claim); got != "198.18.0.2; the packet's source not claimed" {
				t.Errorf("claim %q", got)
			}
			other, _ := derive.NewSigPacket(p.Secret, make([]byte, 32), p.ServerID, p.Params)
			if _, err := other.Open(payload, 60000000, k, netip.Addr{}); !errors.Is(err, derive.ErrSignature) {
				t.Errorf("another public key: %v, want %v", err, derive.ErrSignature)
			}
		})
	}
}
