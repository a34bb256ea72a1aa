package firewall

import (
	"errors"
	"fmt"
	"os"
)

// sourceSets is the seam under ipsetFilter's Setup and Check for the
// shape of the filter's source sets: the real one is an ipsetConn, the
// fake fakeSourceSets.
type sourceSets interface {
	// CreateSource creates a hash:ip source set of the family as
	// createSourceSet does; an error matching os.ErrExist when a set
	// of that name exists.
	CreateSource(name string, v6 bool) error
	// HashSize returns the hash size of set name; os.ErrNotExist when
	// it is missing.
	HashSize(name string) (uint32, error)
	// Swap exchanges the sets named a and b (IPSET_CMD_SWAP, same type
	// and family): each name then holds the other's set, and an
	// iptables rule that matched a matches the set now named a.
	Swap(a, b string) error
	// Destroy deletes set name; os.ErrNotExist when it is missing, an
	// error when a rule references it.
	Destroy(name string) error
}

// sourceSet is a source set's name and family.
type sourceSet struct {
	name string
	v6   bool
}

// filterSources are the filter's source sets.
func filterSources() []sourceSet { return []sourceSet{{FilterSrc4, false}, {FilterSrc6, true}} }

// replacement is the name of the set that replaces name: created
// beside it, swapped in, then destroyed.
func replacement(name string) string { return name + "-new" }

// setupSources creates the source sets; one that exists is kept unless
// its hash is smaller than sourceHashSize (an earlier otpknockd's,
// created with ipset's default), then it is replaced (replaceSource).
func setupSources(s sourceSets) error {
	for _, src := range filterSources() {
		err := s.CreateSource(src.name, src.v6)
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrExist) {
			return setErr("creating ipset "+src.name, err)
		}
		size, err := s.HashSize(src.name)
		if err != nil {
			return setErr("listing ipset "+src.name, err)
		}
		if size >= sourceHashSize {
			continue
		}
		if err := replaceSource(s, src); err != nil {
			return setErr(fmt.Sprintf("replacing ipset %s (hash size %d, want %d)", src.name, size, sourceHashSize), err)
		}
	}
	return nil
}

// replaceSource replaces the existing source set src with a new one of
// sourceHashSize without a moment where its name is missing (the
// iptables rules that reference it stay valid): it creates the new set
// under another name, swaps the two, and destroys the old one, now
// under the other name and referenced by nothing. The old set's
// tracked sources are lost: they are the sources of sequences in
// progress (sequence_timeout, seconds), and each is tracked again by
// its next knock to an armed element. A replacement left by an
// interrupted run is destroyed first.
func replaceSource(s sourceSets, src sourceSet) error {
	tmp := replacement(src.name)
	if err := s.Destroy(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("destroying a stale %s: %w", tmp, err)
	}
	if err := s.CreateSource(tmp, src.v6); err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	if err := s.Swap(src.name, tmp); err != nil {
		return errors.Join(fmt.Errorf("swapping in %s: %w", tmp, err), s.Destroy(tmp))
	}
	if err := s.Destroy(tmp); err != nil {
		return fmt.Errorf("destroying the old set, now %s: %w", tmp, err)
	}
	return nil
}

// checkSources lists the source sets that are missing or whose hash is
// smaller than sourceHashSize.
func checkSources(s sourceSets) ([]string, error) {
	var out []string
	for _, src := range filterSources() {
		size, err := s.HashSize(src.name)
		switch {
		case errors.Is(err, os.ErrNotExist):
			out = append(out, "set "+src.name)
		case err != nil:
			return nil, setErr("listing ipset "+src.name, err)
		case size < sourceHashSize:
			out = append(out, fmt.Sprintf("set %s: hash size %d, want %d", src.name, size, sourceHashSize))
		}
	}
	return out, nil
}
