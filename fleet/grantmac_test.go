package fleet_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/otpknock/otpknock/fleet"
)

// TestGrantMAC: a grant verifies under the key that signed it only, and
// any change to what it opens, for whom or when breaks it.
func TestGrantMAC(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	g := fleet.SignGrant(fleet.Grant{Identity: "vpn", Member: "m1", User: "alice", Step: 9,
		Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, Open: []string{"tcp/22"}, Timeout: 30 * time.Second, Sent: time.Unix(5, 0)}, key)
	if !fleet.VerifyGrant(g, key) {
		t.Fatal("a signed grant does not verify")
	}
	for name, mut := range map[string]func(*fleet.Grant){
		"another address": func(g *fleet.Grant) { g.Addrs = []netip.Addr{netip.MustParseAddr("198.18.0.66")} },
		"another user":    func(g *fleet.Grant) { g.User = "bob" },
		"another step":    func(g *fleet.Grant) { g.Step++ },
		"another pool":    func(g *fleet.Grant) { g.Identity = "bastion" },
		"another service": func(g *fleet.Grant) { g.Open = []string{"tcp/3389"} },
		"no MAC":          func(g *fleet.Grant) { g.MAC = nil },
	} {
		t.Run(name, func(t *testing.T) {
			h := g
			mut(&h)
			if fleet.VerifyGrant(h, key) {
				t.Error("a changed grant verifies")
			}
		})
	}
	if fleet.VerifyGrant(g, bytes.Repeat([]byte{8}, 32)) {
		t.Error("a grant verifies under another key")
	}
}
