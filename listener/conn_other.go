//go:build !linux

package listener

import (
	"context"
	"fmt"
	"runtime"
)

// Options configure an NFLOG subscription.
type Options struct {
	Group     uint16
	CopyRange uint32
	RcvBuf    int
}

// DefaultOptions returns the default options for group.
func DefaultOptions(group uint16) Options {
	return Options{Group: group, CopyRange: CopyRange, RcvBuf: 8 << 20}
}

// NFLOG is a Source reading an NFLOG group; Linux only.
type NFLOG struct{}

// Open returns an error: NFLOG is not supported on this GOOS.
func Open(Options) (*NFLOG, error) {
	return nil, fmt.Errorf("NFLOG is not supported on %s", runtime.GOOS)
}

// Run returns an error: not supported.
func (*NFLOG) Run(context.Context, func(Packet)) error {
	return fmt.Errorf("NFLOG is not supported on %s", runtime.GOOS)
}

// Stats returns zero counters.
func (*NFLOG) Stats() Stats { return Stats{} }

// Close does nothing.
func (*NFLOG) Close() error { return nil }
