package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/otpknock/otpknock/internal/safefile"
)

// localCopy is the cache file: the records this member accepted and,
// per user, the highest generation it accepted, which outlives the
// user's records (docs/spec.md section 14.4).
type localCopy struct {
	Records []Record          `json:"records"`
	Seen    map[string]uint64 `json:"seen"`
}

func (m *Member) saveCache(c localCopy) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return safefile.Write(m.cfg.CacheFile, b, 0o600)
}

// readCache reads the cache file and its time.
func (m *Member) readCache() (localCopy, time.Time, error) {
	var c localCopy
	if m.cfg.CacheFile == "" {
		return c, time.Time{}, errors.New("no cache file configured")
	}
	b, err := os.ReadFile(m.cfg.CacheFile)
	if err != nil {
		return c, time.Time{}, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, time.Time{}, fmt.Errorf("%s: %w", m.cfg.CacheFile, err)
	}
	if c.Seen == nil {
		c.Seen = map[string]uint64{}
	}
	fi, err := os.Stat(m.cfg.CacheFile)
	if err != nil {
		return c, time.Time{}, err
	}
	return c, fi.ModTime(), nil
}

// LocalCopyUsers lists the users of a member's last copy (its cache
// file, fleet.cache_file), sorted, without the removed ones: what the
// member held when it last read the store. It reads the records'
// labels and opens nothing (shell completion uses it).
func LocalCopyUsers(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c localCopy
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for _, r := range c.Records {
		if !r.Removed && !slices.Contains(out, r.User) {
			out = append(out, r.User)
		}
	}
	slices.Sort(out)
	return out, nil
}
