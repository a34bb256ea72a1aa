//go:build !linux

package firewall

// Probe returns an error: not supported on this GOOS.
func (k *IPTables) Probe() (int, bool, error) { return 0, false, errUnsupported() }
