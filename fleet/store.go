package fleet

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrUsed is returned by [Store.UseStep] for a (user, step) some member
// of the pool has already used.
var ErrUsed = errors.New("step already used in the pool")

// Store is what members and the administrator share. Every method may
// fail when the store is unreachable; none blocks past its context.
type Store interface {
	// PutRecord stores a sealed user record, replacing the one of the
	// same (user, member).
	PutRecord(ctx context.Context, r Record) error
	// DeleteUser removes every record of user.
	DeleteUser(ctx context.Context, user string) error
	// Records returns every record, in no particular order.
	Records(ctx context.Context) ([]Record, error)
	// WatchRecords calls changed (from another goroutine) after each
	// change to the records, until ctx ends.
	WatchRecords(ctx context.Context, changed func()) error
	// PutMember registers a member; Members lists them.
	PutMember(ctx context.Context, m MemberInfo) error
	Members(ctx context.Context) ([]MemberInfo, error)
	// UseStep records (identity, user, step) if no member has: nil the
	// first time, ErrUsed after, until the record expires.
	UseStep(ctx context.Context, identity, user string, step uint64) error
	// PublishGrant sends g to the members of g.Identity;
	// SubscribeGrants calls fn with each grant sent to identity until
	// ctx ends.
	PublishGrant(ctx context.Context, g Grant) error
	SubscribeGrants(ctx context.Context, identity string, fn func(Grant)) error
	// PublishEvent sends an audit event; SubscribeEvents calls fn with
	// each until ctx ends.
	PublishEvent(ctx context.Context, e Event) error
	SubscribeEvents(ctx context.Context, fn func(Event)) error
	// Connected reports whether the store is reachable now.
	Connected() bool
}

// Record is one user's member key and options sealed for one member,
// or the user's tombstone for it. The labels (Generation, Removed, Knock,
// Auth, GrantPrefix) repeat the sealed payload's in the clear, for listings; a member
// refuses a record whose labels are not its payload's.
type Record struct {
	User       string `json:"user"`
	Member     string `json:"member"`
	Nonce      []byte `json:"nonce"` // 24 bytes
	Box        []byte `json:"box"`   // box.Seal of the JSON of a UserKey
	Generation uint64 `json:"generation,omitempty"`
	Removed    bool   `json:"removed,omitempty"`
	Knock      string `json:"knock,omitempty"`
	Auth       string `json:"auth,omitempty"`
	// GrantPrefix is the payload's grant_prefix ("24,64"), empty when a
	// grant opens the address alone.
	GrantPrefix string `json:"grant_prefix,omitempty"`
}

// MemberInfo is a member as the administrator sees it.
type MemberInfo struct {
	Name     string `json:"name"`     // the member's own name, unique in the fleet
	Identity string `json:"identity"` // the identity it is knocked as (a pool's shared name)
	Public   []byte `json:"public"`   // its X25519 box public key, 32 bytes
}

// Grant is a grant one member of a pool made, for the others to apply.
type Grant struct {
	Identity string        `json:"identity"`
	Member   string        `json:"member"` // who granted
	User     string        `json:"user"`
	Step     uint64        `json:"step"`
	Addrs    []netip.Addr  `json:"addrs"`
	Open     []string      `json:"open"` // "tcp/22"
	Timeout  time.Duration `json:"timeout"`
	Sent     time.Time     `json:"sent"`
	MAC      []byte        `json:"mac"` // SignGrant: HMAC-SHA256 under the user's member key
}

// Event is one audit event: a grant or a refusal.
type Event struct {
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"` // grant, replay, refused, peer-grant
	Member     string    `json:"member"`
	User       string    `json:"user"`
	Credential string    `json:"credential"` // sequence or packet
	Step       uint64    `json:"step"`
	Source     string    `json:"source"`
	Services   []string  `json:"services"`
	Reason     string    `json:"reason,omitempty"`
}
