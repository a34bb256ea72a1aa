//go:build !windows

package sender

import "github.com/otpknock/otpknock/internal/errno"

// sysErr adds the operation to err and maps permission errnos to
// os.ErrPermission.
func sysErr(op string, err error) error { return errno.Wrap(op, err, "") }
