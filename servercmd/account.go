package servercmd

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/otpknock/otpknock/config"
)

// service returns the account the packaged unit runs the server as:
// Env's, or the user database's group and user otpknock when running as
// root (only root gives files to another owner); nil when the group
// does not exist.
func (env *Env) service() (*config.Account, error) {
	if env.Service != nil {
		return env.Service()
	}
	if os.Geteuid() != 0 {
		return nil, nil
	}
	return lookupAccount(config.ServiceName)
}

// lookupAccount finds group name and user name; nil when the group does
// not exist, UID -1 when the user does not.
func lookupAccount(name string) (*config.Account, error) {
	g, err := user.LookupGroup(name)
	if errors.As(err, new(user.UnknownGroupError)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up group %s: %w", name, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return nil, fmt.Errorf("group %s: gid %q: %w", name, g.Gid, err)
	}
	a := &config.Account{User: name, Group: name, UID: -1, GID: gid}
	u, err := user.Lookup(name)
	if errors.As(err, new(user.UnknownUserError)) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up user %s: %w", name, err)
	}
	if a.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	return a, nil
}
