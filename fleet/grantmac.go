package fleet

import (
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"strings"
)

// GrantLabel starts the message a pool grant's MAC covers.
const GrantLabel = "otpknock/v1/pool-grant"

// grantMessage is what Grant.MAC covers: every field but the MAC, in a
// fixed order, NUL-separated (no field holds a NUL: names follow the
// config's grammar, addresses and services their text forms).
func grantMessage(g Grant) []byte {
	addrs := make([]string, len(g.Addrs))
	for i, a := range g.Addrs {
		addrs[i] = a.String()
	}
	return []byte(strings.Join([]string{GrantLabel, g.Identity, g.Member, g.User, strconv.FormatUint(g.Step, 10),
		strings.Join(addrs, ","), strings.Join(g.Open, ","), strconv.FormatInt(int64(g.Timeout), 10),
		strconv.FormatInt(g.Sent.UnixNano(), 10)}, "\x00"))
}

// SignGrant sets g's MAC under the user's member key: only a member
// holding that key (a member of the pool) can make a grant its peers
// apply; NATS credentials alone cannot.
func SignGrant(g Grant, key []byte) Grant {
	g.MAC = nil
	mac := hmac.New(sha256.New, key)
	mac.Write(grantMessage(g))
	g.MAC = mac.Sum(nil)
	return g
}

// VerifyGrant reports whether g's MAC is right under key.
func VerifyGrant(g Grant, key []byte) bool {
	want := SignGrant(g, key).MAC
	return hmac.Equal(want, g.MAC)
}
