package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Account is the user and group the server runs as: the packaged unit
// runs it as user and group otpknock.
type Account struct {
	User, Group string
	UID         int // -1: no such user, the group alone exists
	GID         int
}

// ServiceName is the name of the user and group of the packaged unit.
const ServiceName = "otpknock"

// Ownership modes WriteInit gives a config the service account reads.
const (
	SharedConfigMode  fs.FileMode = 0o640 // root:GROUP
	SharedDirMode     fs.FileMode = 0o750 // root:GROUP, the config's directory when init creates it
	PrivateSecretsDir fs.FileMode = 0o700 // USER:GROUP
)

// shareInit gives the new config file f the service account's group and
// mode SharedConfigMode, through the open file (never by name).
func shareInit(f *os.File, svc *Account) error {
	if err := f.Chown(-1, svc.GID); err != nil {
		return fmt.Errorf("giving the config group %s: %w", svc.Group, err)
	}
	if err := f.Chmod(SharedConfigMode); err != nil {
		return fmt.Errorf("config mode %o: %w", SharedConfigMode, err)
	}
	return nil
}

// shareDirs gives the config's directory, when init created it, group
// GID and mode SharedDirMode, and creates the secrets directory, when
// it is missing, lies in the config's directory and the user exists,
// owned by the service user with mode PrivateSecretsDir. Both are new
// directories in a directory root owns.
func shareDirs(dir, secrets string, created bool, svc *Account) error {
	if created {
		if err := os.Lchown(dir, -1, svc.GID); err != nil {
			return fmt.Errorf("giving %s group %s: %w", dir, svc.Group, err)
		}
		if err := os.Chmod(dir, SharedDirMode); err != nil {
			return fmt.Errorf("mode of %s: %w", dir, err)
		}
	}
	ad, _ := filepath.Abs(dir)
	as, _ := filepath.Abs(secrets)
	if svc.UID < 0 || filepath.Dir(as) != ad {
		return nil
	}
	if err := os.Mkdir(secrets, PrivateSecretsDir); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // the admin's or the package's: left as it is
		}
		return fmt.Errorf("creating secrets_dir: %w", err)
	}
	if err := os.Lchown(secrets, svc.UID, svc.GID); err != nil {
		return fmt.Errorf("giving %s to user %s: %w", secrets, svc.User, err)
	}
	return nil
}
