//go:build !linux

package servercmd

import "github.com/otpknock/otpknock/derive"

// kernelListening knows no listening sockets outside Linux, where the
// server does not run.
func kernelListening() (map[derive.Knock]bool, error) { return nil, nil }
