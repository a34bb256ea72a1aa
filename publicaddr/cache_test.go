package publicaddr

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCache(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0).UTC()
	c := &Cache{Path: filepath.Join(t.TempDir(), "sub", "publicaddr.json"), TTL: time.Minute}
	if _, ok := c.Get(localV4, t0); ok {
		t.Fatal("a missing file holds an entry")
	}
	if err := c.Put(Address{Local: localV4, Public: pubV4, Server: "a.example:3478", At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(Address{Local: localV6, Public: pubV6, Server: "a.example:3478", At: t0.Add(30 * time.Second)}, t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		local netip.Addr
		at    time.Duration
		ok    bool
	}{
		{name: "fresh", local: localV4, at: 59 * time.Second, ok: true},
		{name: "stale at the TTL", local: localV4, at: time.Minute},
		{name: "from the future", local: localV6, at: 10 * time.Second},
		{name: "another local address", local: netip.MustParseAddr("10.0.0.3"), at: time.Second},
		{name: "IPv6 fresh", local: localV6, at: 89 * time.Second, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := c.Get(tt.local, t0.Add(tt.at))
			if ok != tt.ok || ok && (a.Local != tt.local || !a.Public.IsValid()) {
				t.Errorf("Get = %+v, %v; want ok %v", a, ok, tt.ok)
			}
		})
	}
	es, err := c.Entries(t0.Add(45 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%v %v %s %v", e.Local, e.Public, e.Server, e.Age))
	}
	want := []string{"10.0.0.2 11.22.33.44 a.example:3478 45s", "fd00::2 2600::44 a.example:3478 15s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// Delete drops one entry.
	if err := c.Delete(localV4, t0.Add(45*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(localV4, t0.Add(45*time.Second)); ok {
		t.Error("a deleted entry is still there")
	}
	if _, ok := c.Get(localV6, t0.Add(45*time.Second)); !ok {
		t.Error("Delete dropped another entry")
	}
	// A Put drops the stale entries.
	if err := c.Put(Address{Local: localV6, Public: pubV6, At: t0.Add(2 * time.Minute)}, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	data, _ := os.ReadFile(c.Path)
	if err := json.Unmarshal(data, &m); err != nil || len(m) != 1 || m["fd00::2"] == nil {
		t.Errorf("file after a Put two minutes later: %s (%v)", data, err)
	}
	if fi, err := os.Stat(c.Path); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v (%v), want 0600", fi.Mode(), err)
	}
}

func TestCacheDamaged(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	c := &Cache{Path: filepath.Join(t.TempDir(), "publicaddr.json")}
	if err := os.WriteFile(c.Path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(localV4, t0); ok {
		t.Error("a damaged file holds an entry")
	}
	if _, err := c.Entries(t0); err == nil {
		t.Error("Entries of a damaged file: no error")
	}
	if err := c.Put(Address{Local: localV4, Public: pubV4, At: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if a, ok := c.Get(localV4, t0); !ok || a.Public != pubV4 {
		t.Errorf("after replacing a damaged file: %+v %v", a, ok)
	}
}

// TestCacheShared checks two users of one file (as two client
// processes): the file always parses, and each reader sees a whole
// version.
func TestCacheShared(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	path := filepath.Join(t.TempDir(), "publicaddr.json")
	var wg sync.WaitGroup
	for w := range 2 {
		c := &Cache{Path: path}
		wg.Go(func() {
			for i := range 50 {
				local := netip.AddrFrom4([4]byte{10, 0, byte(w), byte(i)})
				if err := c.Put(Address{Local: local, Public: pubV4, At: t0}, t0); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Entries(t0); err != nil {
					t.Errorf("reading while another writes: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	es, err := (&Cache{Path: path}).Entries(t0)
	if err != nil || len(es) == 0 {
		t.Errorf("after the writers: %d entries, %v", len(es), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
