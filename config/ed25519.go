package config

import (
	"fmt"

	"github.com/otpknock/otpknock/derive"
	"go.yaml.in/yaml/v3"
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

// SetPublicKey replaces the public key of the ed25519 user called name
// in the config file at path (otpknockd user rekey), keeping the file's
// other comments, and returns the config as now written.
func SetPublicKey(path, name, line string) (*Config, error) {
	return edit(path, func(c *Config, users *yaml.Node) error {
		u, ok := c.User(name)
		switch {
		case !ok:
			return fmt.Errorf("no user %q in %s", name, path)
		case u.Auth != derive.AuthEd25519:
			return fmt.Errorf("user %q authenticates with %s: only ed25519 users have a public key", name, u.Auth)
		}
		for _, n := range users.Content {
			var uf userFile
			if n.Decode(&uf) != nil || uf.Name != name {
				continue
			}
			uf.PublicKey = line
			var out yaml.Node
			if err := out.Encode(uf); err != nil {
				return err
			}
			*n = out
			return nil
		}
		return fmt.Errorf("no user %q in %s", name, path)
	})
}
