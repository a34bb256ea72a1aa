//go:build !linux

package firewall

// NFT is the nftables Backend; Linux only.
type NFT struct{ Backend }

// NewNFT returns an error: not supported on this GOOS.
func NewNFT() (*NFT, error) { return nil, errUnsupported() }

// NFTDigest is empty: the nftables backend is Linux only.
func (p Plan) NFTDigest() string { return "" }

// RenderNFT says that the nftables backend is Linux only.
func (p Plan) RenderNFT() string { return "# " + errUnsupported().Error() + "\n" }

// Probe returns an error: not supported on this GOOS.
func (n *NFT) Probe() (int, bool, error) { return 0, false, errUnsupported() }
