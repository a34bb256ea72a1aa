package provision

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"

	"github.com/otpknock/otpknock/derive"
)

// parseAuth reads an account's credentials (docs/spec.md sections 9.3 and
// 11.12): the secret of an hmac or sequence user; or, with auth=ed25519,
// the locator secret in place of the secret and, only in the URI of a
// pair the server made, the private seed in key.
func parseAuth(q url.Values, knock derive.Mode) (derive.Auth, []byte, ed25519.PrivateKey, error) {
	auth, err := derive.ParseAuth(q.Get("auth"))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("auth: %w", err)
	}
	if auth == derive.AuthHMAC {
		for _, f := range []string{"locator", "key"} {
			if q.Get(f) != "" {
				return 0, nil, nil, fmt.Errorf("%s: only auth=ed25519 URIs carry one", f)
			}
		}
		secret, err := derive.DecodeSecret(q.Get("secret"))
		return auth, secret, nil, derive.Rename(err, param)
	}
	switch {
	case knock != derive.ModePacket:
		return 0, nil, nil, errors.New("auth: ed25519 needs knock=packet")
	case q.Get("secret") != "":
		return 0, nil, nil, errors.New("secret: an auth=ed25519 URI carries a locator, never a secret")
	case q.Get("locator") == "":
		return 0, nil, nil, errors.New("locator: an auth=ed25519 URI needs one")
	}
	locator, err := derive.DecodeSecret(q.Get("locator"))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("locator: %w", errors.Unwrap(err))
	}
	if q.Get("key") == "" {
		return auth, locator, nil, nil
	}
	seed, err := derive.DecodeSecret(q.Get("key"))
	if err != nil || len(seed) != ed25519.SeedSize {
		return 0, nil, nil, fmt.Errorf("key: want a %d-byte Ed25519 seed in Base32", ed25519.SeedSize)
	}
	return auth, locator, ed25519.NewKeyFromSeed(seed), nil
}

// setAuth writes an ed25519 account's locator (in place of the secret)
// and, when the account holds it, its private seed.
func setAuth(q url.Values, a Account) {
	if a.Auth != derive.AuthEd25519 {
		return
	}
	q.Del("secret")
	q.Set("auth", a.Auth.String())
	q.Set("locator", derive.EncodeSecret(a.Secret))
	if a.PrivateKey != nil {
		q.Set("key", derive.EncodeSecret(a.PrivateKey.Seed()))
	}
}
