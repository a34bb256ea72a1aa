package firewall

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// fakeSourceSets keeps source sets in memory as the kernel does: by
// name, each with its family, hash size and count of entries. Rules
// reference names (refs): a swap moves the sets, not the references,
// and a referenced set cannot be destroyed. Every call is logged (ops)
// and fail makes the named call fail.
type fakeSourceSets struct {
	sets map[string]*fakeSourceSet
	refs map[string]int
	ops  []string
	fail map[string]error // "swap a b", "create a", ...: the error of that call
}

type fakeSourceSet struct {
	v6      bool
	hash    uint32
	entries int
}

func newFakeSourceSets() *fakeSourceSets {
	return &fakeSourceSets{sets: map[string]*fakeSourceSet{}, refs: map[string]int{}, fail: map[string]error{}}
}

// call logs op and returns its planned failure.
func (f *fakeSourceSets) call(op string) error {
	f.ops = append(f.ops, op)
	return f.fail[op]
}

func (f *fakeSourceSets) CreateSource(name string, v6 bool) error {
	if err := f.call("create " + name); err != nil {
		return err
	}
	if f.sets[name] != nil {
		return unix.EEXIST
	}
	f.sets[name] = &fakeSourceSet{v6: v6, hash: sourceHashSize}
	return nil
}

func (f *fakeSourceSets) HashSize(name string) (uint32, error) {
	if err := f.call("list " + name); err != nil {
		return 0, err
	}
	if f.sets[name] == nil {
		return 0, unix.ENOENT
	}
	return f.sets[name].hash, nil
}

func (f *fakeSourceSets) Swap(a, b string) error {
	if err := f.call("swap " + a + " " + b); err != nil {
		return err
	}
	sa, sb := f.sets[a], f.sets[b]
	switch {
	case sa == nil || sb == nil:
		return unix.ENOENT
	case sa.v6 != sb.v6:
		return nl.IPSetError(nl.IPSET_ERR_TYPE_MISMATCH)
	}
	f.sets[a], f.sets[b] = sb, sa
	return nil
}

func (f *fakeSourceSets) Destroy(name string) error {
	if err := f.call("destroy " + name); err != nil {
		return err
	}
	switch {
	case f.sets[name] == nil:
		return unix.ENOENT
	case f.refs[name] > 0:
		return nl.IPSetError(nl.IPSET_ERR_REFERENCED)
	}
	delete(f.sets, name)
	return nil
}

// String lists the sets by name: family, hash size, entries and the
// rules' references.
func (f *fakeSourceSets) String() string {
	var out []string
	for name, s := range f.sets {
		fam := "inet"
		if s.v6 {
			fam = "inet6"
		}
		out = append(out, fmt.Sprintf("%s %s hashsize %d entries %d refs %d", name, fam, s.hash, s.entries, f.refs[name]))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// old is a source set an earlier otpknockd left: ipset's default hash
// size (or once resized), tracked sources in it, and both rules of its
// family referencing it.
func (f *fakeSourceSets) old(name string, v6 bool, hash uint32) {
	f.sets[name] = &fakeSourceSet{v6: v6, hash: hash, entries: 12288}
	f.refs[name] = 2
}

// TestSetupSources: Setup creates missing source sets, keeps those
// whose hash is large enough, and replaces a smaller one by a swap (its
// name never missing while rules reference it), losing its entries.
func TestSetupSources(t *testing.T) {
	const (
		src4, src6 = FilterSrc4, FilterSrc6
		tmp4, tmp6 = src4 + "-new", src6 + "-new"
	)
	replaced := func(name, tmp string) []string {
		return []string{"create " + name, "list " + name, "destroy " + tmp, "create " + tmp, "swap " + name + " " + tmp, "destroy " + tmp}
	}
	tests := []struct {
		name    string
		before  func(f *fakeSourceSets)
		ops     []string
		after   string
		wantErr string
	}{
		{"a new host", func(*fakeSourceSets) {}, []string{"create " + src4, "create " + src6},
			src4 + " inet hashsize 32768 entries 0 refs 0\n" + src6 + " inet6 hashsize 32768 entries 0 refs 0", ""},
		{"current sets kept with their entries", func(f *fakeSourceSets) {
			f.old(src4, false, sourceHashSize)
			f.old(src6, true, 2*sourceHashSize) // grown by adds from user space
		}, []string{"create " + src4, "list " + src4, "create " + src6, "list " + src6},
			src4 + " inet hashsize 32768 entries 12288 refs 2\n" + src6 + " inet6 hashsize 65536 entries 12288 refs 2", ""},
		{"an earlier otpknockd's sets replaced", func(f *fakeSourceSets) {
			f.old(src4, false, 1024)
			f.old(src6, true, 2048) // resized once by the daemon's adds
		}, append(replaced(src4, tmp4), replaced(src6, tmp6)...),
			src4 + " inet hashsize 32768 entries 0 refs 2\n" + src6 + " inet6 hashsize 32768 entries 0 refs 2", ""},
		{"an interrupted replacement's set destroyed first", func(f *fakeSourceSets) {
			f.old(src4, false, sourceHashSize)
			f.old(src6, true, 1024)
			f.sets[tmp6] = &fakeSourceSet{v6: true, hash: sourceHashSize, entries: 3}
		}, []string{"create " + src4, "list " + src4, "create " + src6, "list " + src6, "destroy " + tmp6, "create " + tmp6, "swap " + src6 + " " + tmp6, "destroy " + tmp6},
			src4 + " inet hashsize 32768 entries 12288 refs 2\n" + src6 + " inet6 hashsize 32768 entries 0 refs 2", ""},
		{"a set of the other family under the name: kept, the replacement gone", func(f *fakeSourceSets) {
			f.old(src4, false, sourceHashSize)
			f.old(src6, false, 1024)
		}, []string{"create " + src4, "list " + src4, "create " + src6, "list " + src6, "destroy " + tmp6, "create " + tmp6, "swap " + src6 + " " + tmp6, "destroy " + tmp6},
			src4 + " inet hashsize 32768 entries 12288 refs 2\n" + src6 + " inet hashsize 1024 entries 12288 refs 2",
			"replacing ipset otpknock-src6 (hash size 1024, want 32768): swapping in otpknock-src6-new: type mismatch"},
		{"a failing listing", func(f *fakeSourceSets) {
			f.old(src4, false, 1024)
			f.fail["list "+src4] = unix.EPERM
		}, []string{"create " + src4, "list " + src4},
			src4 + " inet hashsize 1024 entries 12288 refs 2", "listing ipset otpknock-src4: permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSourceSets()
			tc.before(f)
			err := setupSources(f)
			if got := fmt.Sprint(err); (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && !strings.HasPrefix(got, tc.wantErr)) {
				t.Errorf("setupSources = %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.ops, f.ops); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.after, f.String()); diff != "" {
				t.Errorf("sets after (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckSources: the heal check names a missing source set and one
// whose hash is smaller than sourceHashSize, and nothing once Setup
// replaced it.
func TestCheckSources(t *testing.T) {
	tests := []struct {
		name   string
		before func(f *fakeSourceSets)
		want   []string
	}{
		{"none", func(*fakeSourceSets) {}, []string{"set otpknock-src4", "set otpknock-src6"}},
		{"current", func(f *fakeSourceSets) {
			f.old(FilterSrc4, false, sourceHashSize)
			f.old(FilterSrc6, true, 4*sourceHashSize)
		}, nil},
		{"an earlier otpknockd's", func(f *fakeSourceSets) {
			f.old(FilterSrc4, false, sourceHashSize)
			f.old(FilterSrc6, true, 1024)
		}, []string{"set otpknock-src6: hash size 1024, want 32768"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSourceSets()
			tc.before(f)
			got, err := checkSources(f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("checkSources (-want +got):\n%s", diff)
			}
			if err := setupSources(f); err != nil {
				t.Fatal(err)
			}
			if got, err := checkSources(f); err != nil || got != nil {
				t.Errorf("checkSources after setupSources = %q, %v", got, err)
			}
		})
	}
	f := newFakeSourceSets()
	f.fail["list "+FilterSrc4] = unix.EPERM
	if got, err := checkSources(f); err == nil {
		t.Errorf("checkSources with a failing listing = %q, nil; want an error", got)
	}
}

// TestIPTablesVerifySourceHash: with the filter, Verify names source
// sets of a smaller hash (an earlier otpknockd's), in this process and
// a new one, and Setup repairs them.
func TestIPTablesVerifySourceHash(t *testing.T) {
	p := testPlan()
	p.Filter, p.Track = true, 10*time.Second
	f := newFakeIPTables()
	if err := f.Setup(p); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Verify(p); err != nil || got != nil {
		t.Fatalf("Verify after Setup = %q, %v", got, err)
	}
	f.filter.hashSize = 1024
	want := []string{"ipset: set otpknock-src4: hash size 1024, want 32768", "ipset: set otpknock-src6: hash size 1024, want 32768"}
	for _, k := range []*fakeIPTables{f, f.restart()} {
		got, err := k.Verify(p)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Verify over small source sets (-want +got):\n%s", diff)
		}
	}
	if err := f.restart().Setup(p); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Verify(p); err != nil || got != nil {
		t.Errorf("Verify after the repair = %q, %v", got, err)
	}
	f.filter.hashSize = 1024
	if got, err := f.filter.Check(testPlan()); err != nil || got != nil {
		t.Errorf("Check of a plan without the filter = %q, %v", got, err)
	}
}
