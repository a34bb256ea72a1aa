package fleet

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
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
	gen, err := a.generation(ctx, k.User)
	if err != nil {
		return nil, err
	}
	k.Generation, k.Removed = gen, false
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

// RemoveUser replaces the records of user with tombstones, sealed for
// every registered member with a new generation: each member drops the
// user and, from then on, refuses any record of it sealed before (a
// record put back into the store). It returns the members it sealed for.
func (a Admin) RemoveUser(ctx context.Context, user string) ([]string, error) {
	members, err := a.Store.Members(ctx)
	if err != nil {
		return nil, err
	}
	gen, err := a.generation(ctx, user)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range members {
		r, err := SealTombstone(a.Key, m, user, gen)
		if err != nil {
			return names, err
		}
		if err := a.Store.PutRecord(ctx, r); err != nil {
			return names, err
		}
		names = append(names, m.Name)
	}
	return names, nil
}

// generation is the generation of the next records of user: the
// current time in Unix nanoseconds, or one above the highest generation
// of the user's records in the store that the administrator sealed, if
// that is later (a clock set back, or another admin host's ahead).
func (a Admin) generation(ctx context.Context, user string) (uint64, error) {
	recs, err := a.Store.Records(ctx)
	if err != nil {
		return 0, err
	}
	members, err := a.Store.Members(ctx)
	if err != nil {
		return 0, err
	}
	pub := map[string][32]byte{}
	for _, m := range members {
		if len(m.Public) == 32 {
			pub[m.Name] = [32]byte(m.Public)
		}
	}
	gen := uint64(time.Now().UnixNano())
	for _, r := range recs {
		p, ok := pub[r.Member]
		if r.User != user || !ok {
			continue
		}
		if k, err := OpenSealed(r, a.Key, p); err == nil && k.Generation >= gen && k.Generation < math.MaxUint64 {
			gen = k.Generation + 1
		}
	}
	return gen, nil
}

// Holders maps each user to the members holding a record of it (not a
// tombstone), sorted.
func (a Admin) Holders(ctx context.Context) (map[string][]string, error) {
	recs, err := a.Store.Records(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range recs {
		if !r.Removed {
			out[r.User] = append(out[r.User], r.Member)
		}
	}
	for _, ms := range out {
		sort.Strings(ms)
	}
	return out, nil
}
