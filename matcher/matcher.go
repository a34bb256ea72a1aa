package matcher

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Defaults of the bounds.
const (
	// DefaultStrayTolerance is the strays allowed between two knocks of
	// a sequence (see the package documentation for the figures).
	DefaultStrayTolerance = 8
	DefaultMaxSources     = 1 << 16
	MaxCandidates         = 16
)

// Config are the matcher's parameters.
type Config struct {
	ServerID        string
	Params          derive.Params
	Skew            int
	SequenceTimeout time.Duration
	StrayTolerance  int // strays a candidate survives between two of its knocks
	MaxSources      int
	// Track, when set, is called on the packet path each time a
	// sequence of more than one knock starts from src, with the time its
	// candidate times out: the daemon has the kernel's filter pass the
	// source's later packets until then. It must not block.
	Track func(src netip.Addr, until time.Time)
	// SigPerUser, SigPerSource and SigNewSources bound the Ed25519
	// signatures verified per second (see DefaultSigPerUser); 0 takes
	// the defaults.
	SigPerUser, SigPerSource, SigNewSources int
	// UseStep, when set, is asked before a grant uses a step: the fleet's
	// pool-wide once-only check (see fleet.go).
	UseStep func(user string, step uint64) error
}

// User is one user as the matcher needs it.
type User struct {
	Name   string
	Secret []byte
	Open   []derive.Knock
	From   []netip.Prefix // empty: any source
	Bind   bool
	Mode   derive.Mode // sequence (the zero value) or packet
	// Auth is a packet user's: hmac (the zero value) or ed25519, whose
	// Secret is then the locator secret and PublicKey its key.
	Auth      derive.Auth
	PublicKey []byte
	// ServerID, when set, replaces Config.ServerID for this user: a fleet
	// user derives with the member's fleet identity.
	ServerID string
}

// Kind says what a completed sequence led to.
type Kind int

// The kinds of events.
const (
	Grant   Kind = iota // a fresh knock from an allowed source
	Replay              // a knock whose step was already used
	Refused             // a knock from a source outside from, or outside its claim
	// Duplicate is a copy of the user's last accepted knock: the same
	// step from the same source (for a packet knock, with the same
	// claim), such as a client's retry that arrived after the grant. It
	// opens and uses nothing, as a Replay, but is no attack.
	Duplicate
)

// Kinds lists every Kind, in order.
func Kinds() []Kind { return []Kind{Grant, Replay, Refused, Duplicate} }

func (k Kind) String() string {
	return [...]string{"grant", "replay", "refused", "duplicate"}[k]
}

// Event is the outcome of a completed sequence or a verified packet
// knock.
type Event struct {
	Kind Kind
	Mode derive.Mode // the knock's mode: the user's
	User string
	Src  netip.Addr // the packet's source
	Step uint64
	Open []derive.Knock // the user's services
	// Addrs are the addresses to open (a fresh slice the caller may
	// keep): for a sequence, exactly [Src]; for a packet knock, the
	// claim's addresses inside from, and Src when the claim asks for it.
	// On a Replay they are what a grant would have opened; on a Refused
	// packet knock the claim's addresses as sent.
	Addrs  []netip.Addr
	Reason string // why a knock was refused; empty otherwise
	// Copy numbers a Duplicate among the copies of its grant, from 1;
	// 0 for other kinds.
	Copy int
}

// Stats counts what the matcher saw.
type Stats struct {
	Packets, Started, Completed, Cancelled, Expired, Evicted uint64
	// Packet knocks: payloads of a size out of range, tags that did not
	// verify, verified claims that were malformed, and grants.
	BadSize, BadTag, BadClaim, PacketGrants uint64
	// Ed25519 packet knocks that passed the locator's check: refused by
	// the signature, and dropped unverified over the budget.
	BadSignature, SigOverBudget uint64
	// Derived counts the sequences the packet path derived: one per
	// candidate a source-bound user's first knock starts, none for a
	// packet that starts nothing.
	Derived    uint64
	Sources    int
	Precompute time.Duration // the last window rebuild
}

// user is a User with its derivers. The window build uses d and pd under
// Matcher.building; the packet path uses hd and hp, so a build beside it
// (PrepareNext) never shares a deriver with it.
type user struct {
	User
	d  *derive.Deriver          // sequence users: the build's (sequences, or first knocks if bound)
	pd *derive.PacketDeriver    // packet users: the build's (elements)
	hd *derive.Deriver          // bound sequence users: the packet path's (knocks 2..k per source)
	hp *derive.PacketDeriver    // packet users: the packet path's (Open)
	sd *derive.SigPacketDeriver // ed25519 packet users: the build's (elements)
	hs *derive.SigPacketDeriver // ed25519 packet users: the packet path's
}

// cand is a (user, step) whose knock starts with a given element. seq is
// the whole sequence of an unbound sequence user; for a source-bound
// user only its first knock until a source starts it (then the whole
// sequence for that source); for a packet user the element.
type cand struct {
	user int
	step uint64
	seq  []derive.Knock
}

// progress is a candidate being followed for one source.
type progress struct {
	cand
	next   int
	strays int // since the last matched knock
	start  time.Time
}

type source struct {
	progs  []progress
	last   time.Time
	serial uint64 // tells its queue entry from a former source's of the same address
	tier   tier   // its eviction rank (see evict.go)
}

// Matcher follows knocks. It is not safe for concurrent use: the daemon
// feeds it from one goroutine, except PrepareNext, which may run beside
// the others (see Window).
type Matcher struct {
	cfg      Config
	users    []user
	win      atomic.Pointer[Window] // the current window
	next     *Window                // the next step's, built ahead
	building sync.Mutex             // held by a window build: it runs the build's derivers
	sources  map[netip.Addr]*source
	queues   [tiers][]queued // the sources of each tier in insertion order, for eviction
	serial   uint64          // the newest source's serial
	used     map[int]uint64
	granted  map[int]accepted // each user's last grant, to tell duplicates from replays
	copies   map[int]int      // duplicates of each user's last grant
	scratch  []derive.Knock
	stats    Stats
	now      time.Time // the packet's, set by Handle
	budget   sigBudget
}

// New builds a matcher. used holds each user's last used step (from the
// state file); users not in it have used none.
func New(cfg Config, users []User, used map[string]uint64) (*Matcher, error) {
	if cfg.StrayTolerance < 0 {
		cfg.StrayTolerance = DefaultStrayTolerance
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = DefaultMaxSources
	}
	if cfg.SigPerUser <= 0 {
		cfg.SigPerUser = DefaultSigPerUser
	}
	if cfg.SigPerSource <= 0 {
		cfg.SigPerSource = DefaultSigPerSource
	}
	if cfg.SigNewSources <= 0 {
		cfg.SigNewSources = DefaultSigNewSources
	}
	m := &Matcher{cfg: cfg, sources: map[netip.Addr]*source{}, used: map[int]uint64{}, granted: map[int]accepted{}, copies: map[int]int{},
		scratch: make([]derive.Knock, 0, derive.MaxKnocks)}
	for i, u := range users {
		w, err := newUser(cfg, u)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		m.users = append(m.users, w)
		if s, ok := used[u.Name]; ok {
			m.used[i] = s
		}
	}
	return m, nil
}

// newUser makes u's derivers: a packet user's two packet derivers, a
// sequence user's build deriver and, if bound, its packet path's.
func newUser(cfg Config, u User) (user, error) {
	w := user{User: u}
	sid := u.serverID(cfg)
	var err error
	if u.Mode == derive.ModePacket && u.Auth == derive.AuthEd25519 {
		return newSigUser(cfg, w)
	}
	if u.Mode == derive.ModePacket {
		if w.pd, err = derive.NewPacket(u.Secret, sid, cfg.Params); err != nil {
			return w, err
		}
		w.hp, err = derive.NewPacket(u.Secret, sid, cfg.Params)
		return w, err
	}
	if w.d, err = derive.New(u.Secret, sid, cfg.Params); err != nil {
		return w, err
	}
	if u.Bind {
		w.hd, err = derive.New(u.Secret, sid, cfg.Params)
	}
	return w, err
}

// Used returns each user's last used step, for the state file.
func (m *Matcher) Used() map[string]uint64 {
	out := make(map[string]uint64, len(m.used))
	for i, s := range m.used {
		out[m.users[i].Name] = s
	}
	return out
}

// MarkUsed records steps as used: each named user's last used step
// becomes at least used[name]. The daemon passes the steps a replaced
// matcher used after this one was built.
func (m *Matcher) MarkUsed(used map[string]uint64) {
	for i, u := range m.users {
		if s, ok := used[u.Name]; ok {
			if last, ok := m.used[i]; !ok || s > last {
				m.used[i] = s
			}
		}
	}
}

// KeepGrants takes over old's record of each user's last grant, for the
// users both know, so a copy of a grant made before a reload is still a
// Duplicate after it. Nothing is taken when the step lengths differ.
func (m *Matcher) KeepGrants(old *Matcher) {
	if old.cfg.Params.Period != m.cfg.Params.Period {
		return
	}
	byName := make(map[string]int, len(old.granted))
	for i := range old.granted {
		byName[old.users[i].Name] = i
	}
	for j, u := range m.users {
		if i, ok := byName[u.Name]; ok && m.used[j] == old.granted[i].step {
			m.granted[j], m.copies[j] = old.granted[i], old.copies[i]
		}
	}
}

// Stats returns the counters.
func (m *Matcher) Stats() Stats {
	s := m.stats
	s.Sources = len(m.sources)
	return s
}

// window returns the steps accepted around step t.
func (m *Matcher) window(t uint64) (lo, hi uint64) {
	w := uint64(m.cfg.Skew)
	lo = t - min(t, w)
	return lo, t + w
}

// sweep drops sources whose candidates all timed out, and the entries
// of the eviction queues that no longer name their source.
func (m *Matcher) sweep(now time.Time) {
	for t := range m.queues {
		kept := m.queues[t][:0]
		for _, q := range m.queues[t] {
			s := m.queuedSource(tier(t), q)
			if s == nil {
				continue
			}
			if now.Sub(s.last) > m.cfg.SequenceTimeout {
				m.stats.Expired += uint64(len(s.progs))
				delete(m.sources, q.addr)
				continue
			}
			kept = append(kept, q)
		}
		m.queues[t] = kept
	}
}

// accepted is a granted knock as a copy of it repeats it: its step, its
// source and, for a packet knock, its claim (Source and the addresses).
type accepted struct {
	step   uint64
	src    netip.Addr
	source bool
	addrs  string
}

// accept records the step of user u as used, granted to a knock a.
func (m *Matcher) accept(u int, a accepted) {
	m.used[u] = a.step
	m.granted[u] = a
	m.copies[u] = 0
}

// reused sets ev's Kind for a knock a of user u whose step is used: a
// Duplicate (numbered in ev.Copy) when it repeats u's last grant, else
// a Replay.
func (m *Matcher) reused(ev *Event, u int, a accepted) {
	ev.Kind = Replay
	if g, ok := m.granted[u]; ok && g == a {
		m.copies[u]++
		ev.Kind, ev.Copy = Duplicate, m.copies[u]
	}
}

// claimKey renders a claim's addresses for accepted.
func claimKey(addrs []netip.Addr) string {
	b := make([]byte, 0, 17*len(addrs))
	for _, a := range addrs {
		b = append(b, a.AsSlice()...)
		b = append(b, '|')
	}
	return string(b)
}
