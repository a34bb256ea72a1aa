package config

import (
	"fmt"

	"github.com/otpknock/otpknock/derive"
)

// checkAuth reads a user's auth and public_key fields: an ed25519 user
// knocks with packets and has a public key line; an hmac user (the
// default) has no public key. The user's secret file then holds the
// locator secret (docs/spec.md section 11.11).
func checkAuth(uf userFile) (derive.Auth, []byte, error) {
	a, err := derive.ParseAuth(uf.Auth)
	if err != nil {
		return 0, nil, fmt.Errorf("auth: %s: %w", uf.Name, err)
	}
	mode, _ := derive.ParseMode(uf.Knock)
	switch {
	case a == derive.AuthHMAC && uf.PublicKey != "":
		return 0, nil, fmt.Errorf("public_key: %s: only auth: ed25519 users have one", uf.Name)
	case a == derive.AuthHMAC:
		return a, nil, nil
	case mode != derive.ModePacket:
		return 0, nil, fmt.Errorf("auth: %s: ed25519 needs knock: packet", uf.Name)
	case uf.PublicKey == "":
		return 0, nil, fmt.Errorf("public_key: %s: an ed25519 user needs one (otpknock-ed25519 BASE64 [NAME])", uf.Name)
	}
	pub, _, err := derive.ParseKeyLine(uf.PublicKey)
	if err != nil {
		return 0, nil, fmt.Errorf("public_key: %s: %w", uf.Name, err)
	}
	return a, pub, nil
}
