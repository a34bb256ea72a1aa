package publicaddr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/otpknock/otpknock/internal/safefile"
)

// DefaultTTL is how long a cached public address is trusted: long
// enough that knocks in a row skip the round trip, short enough that a
// NAT's new mapping (a router's reboot, a carrier's new lease) is seen
// soon.
const DefaultTTL = 5 * time.Minute

// Cache keeps public addresses per local route address in a JSON file.
// Each Get reads the file and each Put replaces it atomically, so two
// client processes can share it: a reader sees one whole version, and
// when two write at once one of their answers is kept.
type Cache struct {
	Path string
	TTL  time.Duration // 0: DefaultTTL
}

// CachePath returns the cache file kept beside the profile store (and
// its state file).
func CachePath(storePath string) string {
	return filepath.Join(filepath.Dir(storePath), "publicaddr.json")
}

// entry is one cached answer; the file maps local addresses to them.
type entry struct {
	Public netip.Addr `json:"public"`
	Server string     `json:"server"`
	At     time.Time  `json:"at"`
}

// Get returns the address cached for local when it is fresh at now: no
// older than the TTL and not from the future (a clock set back).
func (c *Cache) Get(local netip.Addr, now time.Time) (Address, bool) {
	m, err := c.load()
	if err != nil {
		return Address{}, false
	}
	e, ok := m[local.Unmap().String()]
	if !ok || !c.fresh(e, now) {
		return Address{}, false
	}
	return Address{Local: local.Unmap(), Public: e.Public, Server: e.Server, At: e.At}, true
}

// Put stores a, drops the entries stale at now, and replaces the file.
func (c *Cache) Put(a Address, now time.Time) error {
	return c.update(now, func(m map[string]entry) {
		m[a.Local.Unmap().String()] = entry{Public: a.Public, Server: a.Server, At: a.At.UTC()}
	})
}

// Delete drops the entry of local (an answer found wrong) and the
// entries stale at now.
func (c *Cache) Delete(local netip.Addr, now time.Time) error {
	return c.update(now, func(m map[string]entry) { delete(m, local.Unmap().String()) })
}

// update applies change to the fresh entries and replaces the file.
func (c *Cache) update(now time.Time, change func(map[string]entry)) error {
	m, err := c.load()
	if err != nil {
		m = map[string]entry{} // a damaged cache is replaced, not kept
	}
	for k, e := range m {
		if !c.fresh(e, now) {
			delete(m, k)
		}
	}
	change(m)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("public address cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return fmt.Errorf("public address cache: %w", err)
	}
	return safefile.Write(c.Path, append(data, '\n'), 0o600)
}

// Entries returns the fresh entries at now, by local address, with
// their ages: what show prints.
func (c *Cache) Entries(now time.Time) ([]Result, error) {
	m, err := c.load()
	if err != nil {
		return nil, err
	}
	var out []Result
	for k, e := range m {
		l, err := netip.ParseAddr(k)
		if err != nil || !c.fresh(e, now) {
			continue
		}
		out = append(out, Result{Address: Address{Local: l, Public: e.Public, Server: e.Server, At: e.At}, Age: now.Sub(e.At), Cached: true})
	}
	slices.SortFunc(out, func(a, b Result) int { return a.Local.Compare(b.Local) })
	return out, nil
}

func (c *Cache) fresh(e entry, now time.Time) bool {
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	age := now.Sub(e.At)
	return e.Public.IsValid() && age >= 0 && age < ttl
}

// load reads the file; a missing file is an empty cache.
func (c *Cache) load() (map[string]entry, error) {
	m := map[string]entry{}
	data, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("public address cache: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("public address cache %s: %w", c.Path, err)
	}
	return m, nil
}
