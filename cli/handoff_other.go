//go:build !unix

package cli

import (
	"context"
	"os"
)

// replace runs otpknockd with args as a child with this process's
// standard streams, and returns its exit status: an OS without exec(2)
// cannot run it in this process's place.
func replace(path string, args, environ []string) error {
	return runFull(context.Background(), path, args, environ, os.Stdin, os.Stdout, os.Stderr)
}
