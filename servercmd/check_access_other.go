//go:build !unix

package servercmd

import "github.com/otpknock/otpknock/config"

// checkServiceAccess checks nothing where files have no Unix owners.
func checkServiceAccess(func(error, string), *config.Config) {}
