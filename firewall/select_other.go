//go:build !linux

package firewall

// HostNow reports nftables as unusable: not supported on this GOOS.
func HostNow() Host { return Host{NFTErr: errUnsupported()} }
