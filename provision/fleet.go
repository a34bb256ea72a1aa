package provision

import (
	"errors"
	"fmt"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/naming"
)

// scope is what the account knocks: its server id, or its fleet.
func (a Account) scope() string {
	if a.Fleet != "" {
		return a.Fleet
	}
	return a.ServerID
}

// checkScope checks that a URI names a server or a fleet, not both, and
// a user (spec sections 9.2 rule 6 and 14.3).
func checkScope(a Account) error {
	switch {
	case a.Fleet != "" && a.ServerID != "":
		return errors.New("fleet: a fleet URI names no server (its members' identities are the names knocked)")
	case a.Fleet != "" && !naming.ServerID(a.Fleet):
		return fmt.Errorf("fleet: %q must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", a.Fleet)
	case a.Fleet == "" && a.ServerID == "" || a.User == "":
		return errors.New("server and user: both must be present")
	}
	return nil
}

// KeyFor returns the secret and server id a knock to host uses. For a
// lone server's account they are the account's own; for a fleet account
// the server id is the identity host names (derive.FleetIdentity) and
// the secret is the member key derived for it (spec section 14).
func (a Account) KeyFor(host string) (secret []byte, serverID string, err error) {
	if a.Fleet == "" {
		return a.Secret, a.ServerID, nil
	}
	id := derive.FleetIdentity(host)
	if !naming.ServerID(id) {
		return nil, "", fmt.Errorf("fleet %s: the name knocked, %q, is not a member identity (1-64 of a-z 0-9 . _ - ): knock the member by its DNS name", a.Fleet, id)
	}
	key, err := derive.MemberKey(a.Secret, a.Fleet, id)
	if err != nil {
		return nil, "", fmt.Errorf("fleet %s: %w", a.Fleet, err)
	}
	return key, id, nil
}
