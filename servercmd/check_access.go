//go:build unix

package servercmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/otpknock/otpknock/config"
)

// unitStateDir is the state directory the packaged unit has systemd
// create for the service user (StateDirectory=otpknock).
const unitStateDir = "/var/lib/otpknock"

// Access bits of a file's mode, for one class of users.
const (
	canRead  = 4
	canWrite = 2
	canEnter = 1
)

// principal is a user and its groups, as the kernel checks access.
type principal struct {
	name string
	uid  int
	gids []int
}

// checkServiceAccess checks, as root, that the user the packaged unit
// runs the server as can read the config and the secrets and write the
// state file, one line each; nothing when that user does not exist or
// when not root (the checks then ran as the user that runs it).
func checkServiceAccess(line func(error, string), cfg *config.Config) {
	if os.Geteuid() != 0 {
		return
	}
	p, err := servicePrincipal(config.ServiceName)
	if err != nil || p == nil {
		if err != nil {
			line(err, "")
		}
		return
	}
	for _, c := range accessChecks(cfg, *p) {
		line(c.err, c.ok)
	}
}

// servicePrincipal is the user name and its groups; nil when there is
// no such user.
func servicePrincipal(name string) (*principal, error) {
	u, err := user.Lookup(name)
	if errors.As(err, new(user.UnknownUserError)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("service user %s: %w", name, err)
	}
	p := &principal{name: name}
	p.uid, _ = strconv.Atoi(u.Uid)
	ids, err := u.GroupIds()
	if err != nil {
		ids = []string{u.Gid}
	}
	for _, id := range ids {
		if g, err := strconv.Atoi(id); err == nil {
			p.gids = append(p.gids, g)
		}
	}
	return p, nil
}

// accessResult is one line of the check: err, or the ok text.
type accessResult struct {
	err error
	ok  string
}

// accessChecks checks that p can read the config and every user's
// secret and write the state file (or create it).
func accessChecks(cfg *config.Config, p principal) []accessResult {
	who := fmt.Sprintf("service user %s", p.name)
	share := fmt.Sprintf("root keeps it, group %s reads it: chgrp %s PATH && chmod g+r PATH", p.name, p.name)
	out := []accessResult{{mayAccess(cfg.Path, p, canRead, share), who + " reads " + cfg.Path}}
	own := fmt.Sprintf("the service user owns secrets_dir and its files: chown %s: PATH", p.name)
	for _, u := range cfg.Users {
		path := cfg.SecretPath(u.Name)
		out = append(out, accessResult{mayAccess(path, p, canRead, own), who + " reads " + path})
	}
	return append(out, accessResult{stateAccess(cfg.StateFile, unitStateDir, p), who + " writes " + cfg.StateFile})
}

// stateAccess checks that p can replace the state file: write its
// directory, the nearest one that exists, which the server creates the
// rest of. The unit's own state directory, unitDir, is systemd's:
// StateDirectory= creates it for the service user, or gives it to the
// service user when it exists, at every start.
func stateAccess(path, unitDir string, p principal) error {
	fix := fmt.Sprintf("the service user owns the state directory: chown %s: PATH", p.name)
	dir := filepath.Dir(path)
	for {
		if dir == unitDir {
			return nil
		}
		_, err := os.Stat(dir)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return err
		}
		dir = parent
	}
	if err := mayAccess(dir, p, canWrite|canEnter, fix); err != nil {
		return err
	}
	if err := mayAccess(path, p, canRead|canWrite, fix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// mayAccess checks the mode bits of path and of every directory above
// it for p: each directory must let p enter, path must give p want.
// ACLs are not read. fix says what to do, PATH standing for the file
// that refuses.
func mayAccess(path string, p principal, want uint32, fix string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	dirs := []string{}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := allowedOn(d, p, canEnter, "enter", fix); err != nil {
			return err
		}
	}
	verb := map[uint32]string{canRead: "read", canRead | canWrite: "write", canWrite | canEnter: "write in"}[want]
	return allowedOn(abs, p, want, verb, fix)
}

// allowedOn checks p's want on path, naming path, its owner and mode
// when p lacks it.
func allowedOn(path string, p principal, want uint32, verb, fix string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("service user %s: %w", p.name, err)
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok || allowed(uint32(s.Uid), uint32(s.Gid), uint32(st.Mode().Perm()), p, want) {
		return nil
	}
	if st.IsDir() {
		fix = strings.ReplaceAll(fix, "g+r", "g+x")
	}
	return fmt.Errorf("service user %s cannot %s %s (owner %s, mode %04o), and the unit runs the server as %s: %s",
		p.name, verb, path, ownerName(s.Uid, s.Gid), st.Mode().Perm(), p.name, strings.ReplaceAll(fix, "PATH", path))
}

// allowed is the kernel's check of mode bits: the owner's class, else
// the group's, else the others'.
func allowed(uid, gid, perm uint32, p principal, want uint32) bool {
	switch {
	case p.uid == 0:
		return true
	case uid == uint32(p.uid):
		return perm>>6&want == want
	case slices.Contains(p.gids, int(gid)):
		return perm>>3&want == want
	}
	return perm&want == want
}

func ownerName(uid, gid uint32) string {
	u, g := strconv.Itoa(int(uid)), strconv.Itoa(int(gid))
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return u + ":" + g
}
