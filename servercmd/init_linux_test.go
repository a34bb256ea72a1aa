package servercmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/internal/netnstest"
)

// TestInitSharesWithService: with an otpknock group, init writes the
// config root:otpknock 0640 in a directory it creates 0750 with that
// group, and creates secrets_dir 0700 owned by the service user, so the
// unit (User=otpknock) reads them; without one it stays 0600 and says
// what a service run as another user needs.
func TestInitSharesWithService(t *testing.T) {
	netnstest.Require(t) // root, to give files another group and owner
	const uid, gid = 4242, 4243
	tests := []struct {
		name    string
		svc     *config.Account
		cfgMode os.FileMode
		cfgGID  int
		dirMode os.FileMode
		secrets string // "" when init creates no secrets_dir
		say     string
	}{
		{"otpknock user and group", &config.Account{User: "otpknock", Group: "otpknock", UID: uid, GID: gid}, 0o640, gid, 0o750, "4242:4243 0700", "group otpknock, mode 640"},
		{"group only", &config.Account{User: "otpknock", Group: "otpknock", UID: -1, GID: gid}, 0o640, gid, 0o750, "", "No user otpknock"},
		{"no group", nil, 0o600, 0, 0o755, "", "no group otpknock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.service = tt.svc
			path := h.path("etc/otpknock/config.yaml")
			out := h.mustRun("", "init", "-c", path, "--server-id", "gw1", "--host", "198.18.0.1")
			if !strings.Contains(out, tt.say) {
				t.Errorf("init says\n%s\nwant %q", out, tt.say)
			}
			if got, want := ownerMode(t, path), fmt.Sprintf("0:%d %04o", tt.cfgGID, tt.cfgMode); got != want {
				t.Errorf("config %s, want %s", got, want)
			}
			if got, want := ownerMode(t, filepath.Dir(path)), fmt.Sprintf("0:%d %04o", tt.cfgGID, tt.dirMode); got != want {
				t.Errorf("config directory %s, want %s", got, want)
			}
			secrets := h.path("etc/otpknock/secrets")
			if got := ownerMode(t, secrets); got != tt.secrets {
				t.Errorf("secrets_dir %q, want %q", got, tt.secrets)
			}
		})
	}
}

// ownerMode is path's "uid:gid mode", "" when it does not exist.
func ownerMode(t *testing.T, path string) string {
	t.Helper()
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d %04o", s.Uid, s.Gid, st.Mode().Perm())
}
