package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/safefile"
)

// Enrollment is what the administrator keeps of a fleet user, on the
// admin host only: the enrollment secret and the user's options, so that
// a member added later can be given the user (Admin.Sync). No member
// holds it.
type Enrollment struct {
	UserKey        // User and the options; Key, Member and Identity unset
	Secret  []byte `json:"secret"`
}

// EnrollmentPath is the file of user's enrollment in dir.
func EnrollmentPath(dir, user string) string { return filepath.Join(dir, user+".json") }

// SaveEnrollment writes e to dir (mode 0600, dir 0700); an existing file
// is refused.
func SaveEnrollment(dir string, e Enrollment) error {
	path := EnrollmentPath(dir, e.User)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists: the user is enrolled already (remove it first)", path)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("enrollments: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return safefile.Write(path, b, 0o600)
}

// LoadEnrollments reads every enrollment of dir, by user name; a missing
// dir holds none.
func LoadEnrollments(dir string) ([]Enrollment, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Enrollment
	for _, p := range names {
		if err := safefile.CheckPrivate(p); err != nil {
			return nil, fmt.Errorf("enrollment %s: %w", p, err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var e Enrollment
		if err := json.Unmarshal(b, &e); err != nil || len(e.Secret) < derive.MinSecret ||
			e.User != strings.TrimSuffix(filepath.Base(p), ".json") {
			return nil, fmt.Errorf("enrollment %s: damaged (%v)", p, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// RemoveEnrollment deletes user's enrollment; a missing one is fine.
func RemoveEnrollment(dir, user string) error {
	err := os.Remove(EnrollmentPath(dir, user))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
