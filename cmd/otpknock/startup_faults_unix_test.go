//go:build unix

package main

import (
	"os"
	"syscall"
)

// minorFaults returns the minor page faults of a process that ended:
// each is a first touch of a page, most of a Go program's start-up.
func minorFaults(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Minflt)
	}
	return 0
}
