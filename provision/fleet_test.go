package provision

import (
	"bytes"
	"strings"
	"testing"

	"github.com/otpknock/otpknock/derive"
)

func fleetAccount(t *testing.T) Account {
	t.Helper()
	return Account{Fleet: "acme", User: "alice", Host: "vpn.example.org", Secret: bytes.Repeat([]byte{7}, 32),
		Params: derive.DefaultParams()}
}

// TestFleetURIRoundTrip: a fleet URI names the fleet and no server, and
// reads back as the same account.
func TestFleetURIRoundTrip(t *testing.T) {
	a := fleetAccount(t)
	u, err := a.URI()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u, "fleet=acme") || strings.Contains(u, "server=") {
		t.Fatalf("URI %s: want fleet=acme and no server field", u)
	}
	got, err := ParseURI(u)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fleet != "acme" || got.ServerID != "" || got.User != "alice" || !bytes.Equal(got.Secret, a.Secret) {
		t.Fatalf("read back %+v, want fleet acme, no server, user alice, the same secret", got)
	}
}

// TestFleetURIRefused: a URI with both a fleet and a server, or a bad
// fleet id, is refused naming the field; a reader that does not know
// fleets refuses a fleet URI because it has no server (spec 14.3).
func TestFleetURIRefused(t *testing.T) {
	a := fleetAccount(t)
	u, err := a.URI()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ uri, field string }{
		"fleet and server": {u + "&server=bastion1", "fleet:"},
		"bad fleet id":     {strings.Replace(u, "fleet=acme", "fleet=-acme", 1), "fleet:"},
		"fleet twice":      {u + "&fleet=acme", "fleet:"},
		"older reader":     {strings.Replace(u, "fleet=acme", "fleetx=acme", 1), "server and user"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseURI(c.uri)
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("ParseURI: %v, want an error naming %q", err, c.field)
			}
		})
	}
}

// TestKeyFor: a lone account knocks with its own key; a fleet account
// with the member key of the name it knocks, case and trailing dot
// ignored; names that are no identity are refused.
func TestKeyFor(t *testing.T) {
	a := fleetAccount(t)
	want, _ := derive.MemberKey(a.Secret, "acme", "bastion2.example.org")
	for _, host := range []string{"bastion2.example.org", "Bastion2.EXAMPLE.org."} {
		key, id, err := a.KeyFor(host)
		if err != nil || id != "bastion2.example.org" || !bytes.Equal(key, want) {
			t.Errorf("KeyFor(%q) = %x, %q, %v; want the member key of bastion2.example.org", host, key, id, err)
		}
	}
	if _, _, err := a.KeyFor("2001:2::1"); err == nil {
		t.Error("KeyFor(an IPv6 literal): no error, want one (not an identity)")
	}
	lone := Account{ServerID: "example", Secret: a.Secret}
	if key, id, err := lone.KeyFor("whatever.example"); err != nil || id != "example" || !bytes.Equal(key, a.Secret) {
		t.Errorf("lone KeyFor = %x, %q, %v; want the account's own secret and id", key, id, err)
	}
}
