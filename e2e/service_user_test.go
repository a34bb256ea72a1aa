package e2e

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// serviceLayout lays out the tree below dir (the config in etc, the
// secrets in etc/secrets, the state in state) as the package does for
// the service user otpknock, which server --check checks as root when
// that user exists (the package is installed): directories others may
// enter (t.TempDir's are 0700), the secrets and the state directory
// owned by the service user. It returns the number of lines the check
// then adds: one for the config, one per secret, one for the state
// file; none where there is no service user.
func serviceLayout(t *testing.T, dir string, users int) int {
	t.Helper()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	u, err := user.Lookup("otpknock")
	if errors.As(err, new(user.UnknownUserError)) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{state, filepath.Join(dir, "etc", "secrets")} {
		err := filepath.Walk(p, func(path string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chown(path, uid, gid)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return 1 + users + 1
}
