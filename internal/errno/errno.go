// Package errno maps the kernel's error numbers to the portable errors
// of package os at otpknock's kernel edges, so that callers test for
// os.ErrPermission or os.ErrNotExist and users read what was missing.
package errno

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Wrap returns err with what as context. EPERM and EACCES become
// os.ErrPermission, followed by the kernel's words and need (what the
// operation needs, such as "needs root or CAP_NET_ADMIN"; may be
// empty); ENOENT becomes os.ErrNotExist. The errno stays in the chain,
// so errors.Is(err, syscall.EPERM) still holds. A nil err stays nil.
func Wrap(what string, err error, need string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		if need != "" {
			return fmt.Errorf("%s: %w (%w; %s)", what, os.ErrPermission, err, need)
		}
		return fmt.Errorf("%s: %w (%w)", what, os.ErrPermission, err)
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%s: %w (%w)", what, os.ErrNotExist, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
