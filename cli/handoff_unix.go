//go:build unix

package cli

import (
	"fmt"
	"syscall"
)

// replace runs otpknockd with args in this process's place: the same
// process, standard streams, signals and exit status (systemd's
// otpknock server stays the service's main process).
func replace(path string, args, environ []string) error {
	err := syscall.Exec(path, append([]string{path}, args...), environ)
	return HandoffError{fmt.Errorf("running %s: %w", path, err)}
}
