package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/safefile"
)

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
	b, err := derive.DecodeSecret(string(data))
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
	return safefile.WriteOwned(path, []byte(derive.EncodeSecret(secret)+"\n"), 0o600, dir)
}
