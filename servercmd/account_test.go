//go:build unix

package servercmd

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/config"
)

// groupWithoutUser is a group of this host that no user of the same name
// has (nogroup, tty, ...), and its gid; "" when there is none.
func groupWithoutUser(t *testing.T) (name string, gid int) {
	t.Helper()
	for _, n := range []string{"nogroup", "tty", "disk", "adm", "users", "wheel", "kmem", "dialout"} {
		g, err := user.LookupGroup(n)
		if err != nil {
			continue
		}
		if _, err := user.Lookup(n); err == nil {
			continue
		}
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			t.Fatal(err)
		}
		return n, gid
	}
	return "", 0
}

// TestLookupAccount: the service account is the group and the user of
// one name: nil without the group, UID -1 without the user.
func TestLookupAccount(t *testing.T) {
	lonely, gid := groupWithoutUser(t)
	tests := []struct {
		name string
		want *config.Account
	}{
		{"root", &config.Account{User: "root", Group: "root", UID: 0, GID: 0}},
		{"otpknock-no-such-group", nil},
		{lonely, &config.Account{User: lonely, Group: lonely, UID: -1, GID: gid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "" {
				t.Skip("no group without a user of its name here")
			}
			got, err := lookupAccount(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lookupAccount(%q) (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestServicePrincipal: the service user with its groups, as the kernel
// checks access; nil when there is no such user.
func TestServicePrincipal(t *testing.T) {
	p, err := servicePrincipal("root")
	if err != nil || p == nil {
		t.Fatalf("servicePrincipal(root) = %v, %v", p, err)
	}
	if p.name != "root" || p.uid != 0 || !slices.Contains(p.gids, 0) {
		t.Errorf("servicePrincipal(root) = %+v, want uid 0 in group 0", *p)
	}
	if p, err := servicePrincipal("otpknock-no-such-user"); p != nil || err != nil {
		t.Errorf("servicePrincipal of a missing user = %+v, %v; want nil, nil", p, err)
	}
}

// makeUnitDir makes DIR/unit, the unit's state directory in
// TestStateAccess, owned by the test's user.
func makeUnitDir(t *testing.T, dir string) {
	if err := os.Mkdir(filepath.Join(dir, "unit"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestStateAccess: the service user must write the state file's
// directory, the nearest that exists, and the file itself when there is
// one.
func TestStateAccess(t *testing.T) {
	me := principal{name: "otpknock", uid: os.Geteuid(), gids: []int{os.Getegid()}}
	stranger := principal{name: "otpknock", uid: 4242, gids: []int{4242}}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // dir is 0755, the test's
		state string                         // under dir
		p     principal
		want  string // in the error; "" for none
	}{
		{"missing directories, owner", nil, "a/b/state.json", me, ""},
		{"missing directories, stranger", nil, "a/b/state.json", stranger, "service user otpknock cannot write in DIR (owner "},
		{"existing file, owner", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "state.json"), "{}") }, "state.json", me, ""},
		{"read-only file, owner", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "state.json"), "{}")
			os.Chmod(filepath.Join(dir, "state.json"), 0o400)
		}, "state.json", me, "service user otpknock cannot write DIR/state.json"},
		// The unit's StateDirectory= (here DIR/unit), whoever owns it now:
		// systemd gives it to the service user at every start.
		{"the unit's state directory, stranger", makeUnitDir, "unit/state.json", stranger, ""},
		{"next to the unit's state directory, stranger", makeUnitDir, "state.json", stranger, "service user otpknock cannot write in DIR (owner "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != "" && tt.p.uid == 0 {
				t.Skip("root passes every check")
			}
			dir := t.TempDir()
			// t.TempDir's directories are 0700: open them to others, as /var is.
			for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
				os.Chmod(d, 0o755)
			}
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			err := stateAccess(filepath.Join(dir, tt.state), filepath.Join(dir, "unit"), tt.p)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("stateAccess: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(strings.ReplaceAll(err.Error(), dir, "DIR"), tt.want)):
				t.Errorf("stateAccess: %v, want an error starting %q", err, tt.want)
			}
		})
	}
}
