//go:build !linux

package firewall

// Open returns an error: not supported on this GOOS.
func Open(mode string) (Backend, string, error) { return nil, "", errUnsupported() }

// HostNow reports nftables as unusable: not supported on this GOOS.
func HostNow() Host { return Host{NFTErr: errUnsupported()} }
