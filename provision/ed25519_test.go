package provision

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/otpknock/otpknock/derive"
)

func ed25519Account(withKey bool) Account {
	a := accounts()["packet knocks"]
	a.Auth = derive.AuthEd25519
	if withKey {
		a.PrivateKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	}
	return a
}

func TestEd25519URIRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a       Account
		has     []string
		hasNone []string
	}{
		{"enrolled key: nothing that knocks", ed25519Account(false), []string{"auth=ed25519", "locator=", "knock=packet"}, []string{"secret=", "key="}},
		{"server-made pair", ed25519Account(true), []string{"auth=ed25519", "locator=", "key="}, []string{"secret="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri, err := tc.a.URI()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !strings.Contains(uri, s) {
					t.Errorf("URI lacks %q: %s", s, uri)
				}
			}
			for _, s := range tc.hasNone {
				if strings.Contains(uri, "&"+s) || strings.Contains(uri, "?"+s) {
					t.Errorf("URI holds %q: %s", s, uri)
				}
			}
			got, err := ParseURI(uri)
			if err != nil {
				t.Fatalf("ParseURI(%s): %v", uri, err)
			}
			if diff := cmp.Diff(tc.a, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEd25519URIErrors(t *testing.T) {
	uri, err := ed25519Account(true).URI()
	if err != nil {
		t.Fatal(err)
	}
	hmacURI, err := accounts()["packet knocks"].URI()
	if err != nil {
		t.Fatal(err)
	}
	secret := "&secret=" + derive.EncodeSecret(secret32())
	for _, tc := range []struct{ name, uri, want string }{
		{"secret beside the locator", uri + secret, "secret: an auth=ed25519 URI carries a locator"},
		{"no locator", strings.Replace(uri, "locator=", "locatorx=", 1), "locator: an auth=ed25519 URI needs one"},
		{"sequence user", strings.Replace(uri, "knock=packet", "knock=sequence", 1), "auth: ed25519 needs knock=packet"},
		{"unknown auth", strings.Replace(uri, "auth=ed25519", "auth=rsa", 1), `auth: "rsa" must be hmac or ed25519`},
		{"short key", strings.Replace(uri, "key=", "key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&x=", 1), "key: want a 32-byte Ed25519 seed"},
		{"locator in an hmac URI", hmacURI + "&locator=" + derive.EncodeSecret(secret32()), "locator: only auth=ed25519 URIs carry one"},
		{"key twice", uri + "&key=AA", "key: given 2 times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURI(tc.uri)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseURI = %v, want %q", err, tc.want)
			}
		})
	}
}
