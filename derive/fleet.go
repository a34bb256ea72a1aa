package derive

import (
	"crypto/hkdf"
	"crypto/sha256"
	"strings"
)

// FleetLabel is the HKDF salt of fleet member keys (docs/spec.md
// section 14): no HMAC message of sections 5 and 11 starts with it.
const FleetLabel = "otpknock/v1/fleet"

// MemberKeyBytes is the length of a fleet member key: one SHA-256 block.
const MemberKeyBytes = 32

// MemberKey derives the secret that the fleet member (or pool) with
// identity serverID holds for a user enrolled in fleet fleetID with
// enrollment secret secret (spec section 14):
//
//	HKDF-SHA256(IKM = secret, salt = "otpknock/v1/fleet",
//	            info = lp(fleetID) || lp(serverID), L = 32)
//
// The member then derives knocks as a lone server does, with this key as
// K and serverID as server_id. HKDF is one-way: a member key (or any
// number of them) yields neither the enrollment secret nor the key of
// another identity. Its errors are [*FieldError]s.
func MemberKey(secret []byte, fleetID, serverID string) ([]byte, error) {
	if err := checkKey(secret, serverID); err != nil {
		return nil, err
	}
	if len(fleetID) == 0 || len(fleetID) > 255 {
		return nil, fieldError(FieldServerID, "fleet id must be 1 to 255 bytes, got %d", len(fleetID))
	}
	return hkdf.Key(sha256.New, secret, []byte(FleetLabel), string(FleetInfo(fleetID, serverID)), MemberKeyBytes)
}

// FleetInfo is the HKDF info of [MemberKey]: lp(fleetID) || lp(serverID).
func FleetInfo(fleetID, serverID string) []byte {
	b := appendLP(nil, []byte(fleetID))
	return appendLP(b, []byte(serverID))
}

// FleetIdentity is the identity a fleet client knocks: the name it
// knocks, in lower case, without a trailing dot (spec section 14.2).
func FleetIdentity(host string) string {
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
