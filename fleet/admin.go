package fleet

import (
	"context"
	"fmt"
	"slices"
	"sort"
)

// Admin is the administrator's side of a fleet: it enrolls users for
// every registered member and lists who holds whom.
type Admin struct {
	Store Store
	Fleet string
	Key   KeyPair // the administrator's box key pair
}

// AddUser seals the member keys of user (from the enrollment secret)
// for every registered member and stores them; it returns the members
// it sealed for. A member registered later gets the user from Sync.
func (a Admin) AddUser(ctx context.Context, secret []byte, k UserKey) ([]string, error) {
	members, err := a.Store.Members(ctx)
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("fleet %s has no members yet: start a member first (it registers itself)", a.Fleet)
	}
	return a.seal(ctx, secret, members, k)
}

func (a Admin) seal(ctx context.Context, secret []byte, members []MemberInfo, k UserKey) ([]string, error) {
	recs, err := SealUser(a.Key, a.Fleet, secret, members, k)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range recs {
		if err := a.Store.PutRecord(ctx, r); err != nil {
			return names, err
		}
		names = append(names, r.Member)
	}
	return names, nil
}

// Sync seals user for the registered members that lack a record of it
// (a server added after the user): it needs the enrollment secret again.
func (a Admin) Sync(ctx context.Context, secret []byte, k UserKey) ([]string, error) {
	holders, err := a.Holders(ctx)
	if err != nil {
		return nil, err
	}
	members, err := a.Store.Members(ctx)
	if err != nil {
		return nil, err
	}
	members = slices.DeleteFunc(members, func(m MemberInfo) bool { return slices.Contains(holders[k.User], m.Name) })
	if len(members) == 0 {
		return nil, nil
	}
	return a.seal(ctx, secret, members, k)
}

// RemoveUser removes every record of user: each member drops it.
func (a Admin) RemoveUser(ctx context.Context, user string) error {
	return a.Store.DeleteUser(ctx, user)
}

// Holders maps each user to the members holding a record of it, sorted.
func (a Admin) Holders(ctx context.Context) (map[string][]string, error) {
	recs, err := a.Store.Records(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range recs {
		out[r.User] = append(out[r.User], r.Member)
	}
	for _, ms := range out {
		sort.Strings(ms)
	}
	return out, nil
}
