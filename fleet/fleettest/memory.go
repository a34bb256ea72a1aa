package fleettest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/otpknock/otpknock/fleet"
)

// Memory is an in-memory fleet.Store shared by every member of a test
// fleet. Used steps never expire in it. SetDown makes every call fail
// as an unreachable store does, and hides publications.
type Memory struct {
	mu       sync.Mutex
	down     bool
	records  map[string]fleet.Record // user\x00member
	members  map[string]fleet.MemberInfo
	used     map[string]bool
	nextID   int
	watchers map[int]func()
	grants   map[int]grantSub
	events   map[int]func(fleet.Event)
	// Published counts grants published, per identity.
	Published map[string]int
}

type grantSub struct {
	identity string
	fn       func(fleet.Grant)
}

// errDown is what every call of a Memory that is down returns.
var errDown = fmt.Errorf("fleettest: store unreachable")

// NewMemory returns an empty, reachable store.
func NewMemory() *Memory {
	return &Memory{records: map[string]fleet.Record{}, members: map[string]fleet.MemberInfo{},
		used: map[string]bool{}, Published: map[string]int{},
		watchers: map[int]func(){}, grants: map[int]grantSub{}, events: map[int]func(fleet.Event){}}
}

// SetDown makes the store unreachable (true) or reachable again.
func (s *Memory) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Connected reports whether the store is up.
func (s *Memory) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down
}

func (s *Memory) lock() error {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return errDown
	}
	return nil
}

// PutRecord stores r and tells the watchers.
func (s *Memory) PutRecord(_ context.Context, r fleet.Record) error {
	if err := s.lock(); err != nil {
		return err
	}
	s.records[r.User+"\x00"+r.Member] = r
	s.notify()
	return nil
}

// DeleteUser removes user's records and tells the watchers.
func (s *Memory) DeleteUser(_ context.Context, user string) error {
	if err := s.lock(); err != nil {
		return err
	}
	for k, r := range s.records {
		if r.User == user {
			delete(s.records, k)
		}
	}
	s.notify()
	return nil
}

// notify unlocks s and calls the watchers.
func (s *Memory) notify() {
	ws := slices.Collect(maps.Values(s.watchers))
	s.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

// Records returns every record.
func (s *Memory) Records(context.Context) ([]fleet.Record, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []fleet.Record
	for _, r := range s.records {
		out = append(out, r)
	}
	return out, nil
}

// WatchRecords registers changed until ctx ends.
func (s *Memory) WatchRecords(ctx context.Context, changed func()) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	register(s, ctx, s.watchers, changed)
	return nil
}

// register adds v to m under a new id until ctx ends. s.mu is held.
func register[V any](s *Memory, ctx context.Context, m map[int]V, v V) {
	s.nextID++
	id := s.nextID
	m[id] = v
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		delete(m, id)
		s.mu.Unlock()
	})
}

// PutMember registers m.
func (s *Memory) PutMember(_ context.Context, m fleet.MemberInfo) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.members[m.Name] = m
	return nil
}

// Members lists the members by name.
func (s *Memory) Members(context.Context) ([]fleet.MemberInfo, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []fleet.MemberInfo
	for _, m := range s.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// UseStep records (identity, user, step) once.
func (s *Memory) UseStep(_ context.Context, identity, user string, step uint64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := fmt.Sprintf("%s %s %d", identity, user, step)
	if s.used[k] {
		return fleet.ErrUsed
	}
	s.used[k] = true
	return nil
}

// PublishGrant delivers g to the subscribers of its identity.
func (s *Memory) PublishGrant(_ context.Context, g fleet.Grant) error {
	if err := s.lock(); err != nil {
		return err
	}
	s.Published[g.Identity]++
	var fns []func(fleet.Grant)
	for _, sub := range s.grants {
		if sub.identity == g.Identity {
			fns = append(fns, sub.fn)
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(g)
	}
	return nil
}

// SubscribeGrants registers fn for identity's grants until ctx ends.
func (s *Memory) SubscribeGrants(ctx context.Context, identity string, fn func(fleet.Grant)) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	register(s, ctx, s.grants, grantSub{identity, fn})
	return nil
}

// PublishEvent delivers e to the event subscribers.
func (s *Memory) PublishEvent(_ context.Context, e fleet.Event) error {
	if err := s.lock(); err != nil {
		return err
	}
	fns := slices.Collect(maps.Values(s.events))
	s.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
	return nil
}

// SubscribeEvents registers fn for every event until ctx ends.
func (s *Memory) SubscribeEvents(ctx context.Context, fn func(fleet.Event)) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	register(s, ctx, s.events, fn)
	return nil
}

// String renders the store: members, records (user -> member) and used
// steps, one per line, sorted.
func (s *Memory) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, m := range s.members {
		lines = append(lines, fmt.Sprintf("member %s identity %s", m.Name, m.Identity))
	}
	for _, r := range s.records {
		line := fmt.Sprintf("record %s for %s", r.User, r.Member)
		if r.Removed {
			line += " (removed)"
		}
		lines = append(lines, line)
	}
	for k := range s.used {
		lines = append(lines, "used "+k)
	}
	if s.down {
		lines = append(lines, "down")
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var _ fleet.Store = (*Memory)(nil)
