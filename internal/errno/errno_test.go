package errno

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		name string
		err  error
		need string
		is   []error // errors.Is must hold for each
		not  []error // and must not for these
		msg  string
	}{
		{name: "EPERM", err: syscall.EPERM, need: "needs root or CAP_NET_ADMIN",
			is: []error{os.ErrPermission, syscall.EPERM}, not: []error{os.ErrNotExist},
			msg: "binding: permission denied (operation not permitted; needs root or CAP_NET_ADMIN)"},
		{name: "EACCES", err: syscall.EACCES,
			is: []error{os.ErrPermission, syscall.EACCES}, not: []error{syscall.EPERM},
			msg: "binding: permission denied (permission denied)"},
		{name: "EPERM deeper in the chain", err: fmt.Errorf("sendto: %w", syscall.EPERM),
			is:  []error{os.ErrPermission, syscall.EPERM},
			msg: "binding: permission denied (sendto: operation not permitted)"},
		{name: "ENOENT", err: syscall.ENOENT, need: "needs root",
			is: []error{os.ErrNotExist, syscall.ENOENT}, not: []error{os.ErrPermission},
			msg: "binding: file does not exist (no such file or directory)"},
		{name: "other errno", err: syscall.EBUSY, need: "needs root",
			is: []error{syscall.EBUSY}, not: []error{os.ErrPermission, os.ErrNotExist},
			msg: "binding: device or resource busy"},
		{name: "not an errno", err: errors.New("socket closed"),
			not: []error{os.ErrPermission, os.ErrNotExist},
			msg: "binding: socket closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Wrap("binding", tt.err, tt.need)
			if got.Error() != tt.msg {
				t.Errorf("message %q, want %q", got, tt.msg)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap %v", got, tt.err)
			}
			for _, e := range tt.is {
				if !errors.Is(got, e) {
					t.Errorf("errors.Is(%v, %v) = false", got, e)
				}
			}
			for _, e := range tt.not {
				if errors.Is(got, e) {
					t.Errorf("errors.Is(%v, %v) = true", got, e)
				}
			}
		})
	}
	if err := Wrap("binding", nil, "needs root"); err != nil {
		t.Errorf("Wrap(nil) = %v", err)
	}
}
