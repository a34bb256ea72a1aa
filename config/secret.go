package config

import (
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/safefile"
)

// b32 is the otpauth URI secret encoding: RFC 4648 Base32 without padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret returns the Base32 form of a secret, as in otpauth URIs.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret parses Base32 (any case, padding and spaces ignored) and
// refuses secrets shorter than 128 bits.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "=", "", "\n", "", "\r", "", "\t", "").Replace(s))
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("secret is not Base32: %w", err)
	}
	if len(b) < derive.MinSecret {
		return nil, fmt.Errorf("secret has %d bits, need at least %d", 8*len(b), 8*derive.MinSecret)
	}
	return b, nil
}

// SecretPath returns the file holding the user's secret.
func (c *Config) SecretPath(user string) string {
	return filepath.Join(c.SecretsDir, user+".key")
}

// ReadSecret reads the user's secret file. The file must be readable by
// its owner only and hold at least 128 bits.
func (c *Config) ReadSecret(user string) ([]byte, error) {
	path := c.SecretPath(user)
	if err := safefile.CheckPrivate(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("secret of user %q: %s is missing: %w", user, path, os.ErrNotExist)
		}
		return nil, fmt.Errorf("secret of user %q: %w", user, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret of user %q: %w", user, err)
	}
	b, err := DecodeSecret(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// WriteSecret stores a new secret for user with mode 0600, creating the
// secrets directory (0700) if needed. An existing file is never replaced.
func (c *Config) WriteSecret(user string, secret []byte) error {
	if err := os.MkdirAll(c.SecretsDir, 0o700); err != nil {
		return fmt.Errorf("creating secrets_dir: %w", err)
	}
	path := c.SecretPath(user)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists: remove the user first or delete the stale file", path)
	}
	// The service user owns the secrets directory: it must read the file.
	dir, err := os.Stat(c.SecretsDir)
	if err != nil {
		return err
	}
	return safefile.WriteOwned(path, []byte(EncodeSecret(secret)+"\n"), 0o600, dir)
}
