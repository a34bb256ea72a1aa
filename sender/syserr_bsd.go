//go:build darwin || freebsd

package sender

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sysErr maps permission errnos to os.ErrPermission.
func sysErr(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %w (%v)", op, os.ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
