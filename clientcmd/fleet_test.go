package clientcmd

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/provision"
)

// TestFleetProfile: a fleet URI imports as a fleet profile, and show
// prints the sequence of the member key of the profile's host (docs/
// spec.md section 14), not one of the enrollment secret.
func TestFleetProfile(t *testing.T) {
	h := newHarness(t)
	secret := bytes.Repeat([]byte{0x42}, 32)
	acct := provision.Account{Fleet: "acme", User: "alice", Host: "vpn.example.org", Secret: secret,
		Params: derive.DefaultParams(), Open: []derive.Knock{{Proto: derive.TCP, Port: 22}}}
	uri, err := acct.URI()
	if err != nil {
		t.Fatal(err)
	}
	if out := h.mustRun(uri, "import", "-"); !strings.Contains(out, "alice@fleet acme") {
		t.Errorf("import names no fleet profile:\n%s", out)
	}
	key, _ := derive.MemberKey(secret, "acme", "vpn.example.org")
	step := derive.Step(h.clock.Now(), acct.Params.Period)
	want, _ := derive.Sequence(key, "vpn.example.org", acct.Params, step, netip.Addr{})
	wrong, _ := derive.Sequence(secret, "vpn.example.org", acct.Params, step, netip.Addr{})
	out, _, err := h.run("", "show")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != derive.Knocks(want).Join(" ") || got == derive.Knocks(wrong).Join(" ") {
		t.Errorf("show: %q, want the member key's %q", got, derive.Knocks(want).Join(" "))
	}
}
