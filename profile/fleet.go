package profile

import "errors"

// checkScope checks that p names a user, a host, and a server id or (a
// fleet profile) a fleet, not both.
func checkScope(p Profile) error {
	switch {
	case p.Fleet != "" && p.ServerID != "":
		return errors.New("fleet: a fleet profile has no server_id (the name knocked is the member's identity)")
	case (p.ServerID == "" && p.Fleet == "") || p.User == "" || p.Host == "":
		return errors.New("server_id (or fleet), user and host must all be set")
	}
	return nil
}

// scopeID is the server id that checks a profile's parameters: its own,
// or for a fleet profile its fleet id (each knock derives with the
// identity of the name knocked, spec section 14).
func (p Profile) scopeID() string {
	if p.Fleet != "" {
		return p.Fleet
	}
	return p.ServerID
}
