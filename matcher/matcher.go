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
}

// User is one user as the matcher needs it.
type User struct {
	Name   string
	Secret []byte
	Open   []derive.Knock
	From   []netip.Prefix // empty: any source
	Bind   bool
	Mode   derive.Mode // sequence (the zero value) or packet
}

// Kind says what a completed sequence led to.
type Kind int

// The kinds of events.
const (
	Grant   Kind = iota // a fresh knock from an allowed source
	Replay              // a knock whose step was already used
	Refused             // a knock from a source outside from, or outside its claim
)

func (k Kind) String() string {
	return [...]string{"grant", "replay", "refused"}[k]
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
}

// Stats counts what the matcher saw.
type Stats struct {
	Packets, Started, Completed, Cancelled, Expired, Evicted uint64
	// Packet knocks: payloads of a size out of range, tags that did not
	// verify, verified claims that were malformed, and grants.
	BadSize, BadTag, BadClaim, PacketGrants uint64
	Sources                                 int
	Precompute                              time.Duration // the last window rebuild
}

type user struct {
	User
	d *derive.Deriver
}

// cand is a (user, step) whose sequence starts with a given knock.
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
	progs []progress
	last  time.Time
}

// Matcher follows knocks. It is not safe for concurrent use: the daemon
// feeds it from one goroutine, except PrepareNext, which may run beside
// the others (see Window).
type Matcher struct {
	cfg      Config
	users    []user
	bound    []int                  // indices of source-bound users
	win      atomic.Pointer[Window] // the current window
	next     *Window                // the next step's, built ahead
	building sync.Mutex             // held by a window build: it runs the unbound users' derivers
	sources  map[netip.Addr]*source
	order    []netip.Addr // insertion order, for eviction
	used     map[int]uint64
	scratch  []derive.Knock
	stats    Stats
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
	m := &Matcher{cfg: cfg, sources: map[netip.Addr]*source{}, used: map[int]uint64{},
		scratch: make([]derive.Knock, 0, derive.MaxKnocks)}
	for i, u := range users {
		d, err := derive.New(u.Secret, cfg.ServerID, cfg.Params)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		m.users = append(m.users, user{User: u, d: d})
		if u.Bind && u.Mode == derive.ModeSequence {
			m.bound = append(m.bound, i)
		}
		if s, ok := used[u.Name]; ok {
			m.used[i] = s
		}
	}
	return m, nil
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

// sweep drops sources whose candidates all timed out.
func (m *Matcher) sweep(now time.Time) {
	kept := m.order[:0]
	for _, a := range m.order {
		s := m.sources[a]
		if s == nil {
			continue
		}
		if now.Sub(s.last) > m.cfg.SequenceTimeout {
			m.stats.Expired += uint64(len(s.progs))
			delete(m.sources, a)
			continue
		}
		kept = append(kept, a)
	}
	m.order = kept
}
